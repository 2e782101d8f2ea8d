"""`dexsim robots`: the supported robots (name, URDF, end-effector link, arm joints)."""
from __future__ import annotations

import json


def register(sub) -> None:
    p = sub.add_parser("robots", help="list the supported robots", description=__doc__)
    p.add_argument("--json", action="store_true", help="print a JSON list, one object per robot")
    p.set_defaults(func=run)


def describe() -> list[dict]:
    from dexsim_sim.robots.registry import list_robots

    out = []
    for spec in list_robots():
        out.append({
            "name": spec.name,
            "urdf": str(spec.urdf.resolve()),
            "ee_link": spec.ee_link,
            "joints": list(spec.arm_joints),
            "gripper_joints": list(spec.gripper_joints),
            "arms": [{"name": a.name, "joints": list(a.joints), "ee_link": a.ee_link} for a in spec.arms],
            "limits": {j: {"lower": lim.lower, "upper": lim.upper, "velocity": lim.velocity, "effort": lim.effort}
                       for j, lim in spec.limits.items()},
        })
    return out


def run(args) -> int:
    robots = describe()
    if args.json:
        print(json.dumps(robots, indent=2))
    else:
        for r in robots:
            print(f"{r['name']:<16} ee={r['ee_link']:<20} {len(r['joints'])} joints  {r['urdf']}")
    return 0
