"""`dexsim demo`: the main job end to end on the embedded default (what `make demo` runs).

Stages, in order (each writes into --out):
  sim       the sim graph comes up over ROS 2 (pip mode), the arm executes a FollowJointTrajectory
            goal, and a PNG of the stereo pair with its segmentation overlay is written;
  project   a bundled (generated) stereo scene and hand track are projected into a scene file
            and gripper keyposes (Real2Sim), with overlay PNGs;
  generate  the data engine scales the projected skill into a small randomized, verified dataset,
            with a PNG grid of randomized frames and the ADR range plot;
  train     a small ACT policy is trained on that dataset with the shipped recipe (loss curve
            PNG) and rated in process on a few held-out seeds;
  eval      a policy is evaluated closed loop on 10 held-out seeds: sim node and policy node as
            separate ROS processes; the success rate is printed. The policy is the shipped demo
            checkpoint (trained by this same pipeline with more demonstrations and steps; see
            dexsim_bringup/resources/demo_policy/TRAINING.md), or the train stage's without one.
"""
from __future__ import annotations

import json
import time
from pathlib import Path

from . import CLIError

STAGES = ("sim", "project", "generate", "train", "eval")


def register(sub) -> None:
    p = sub.add_parser("demo", help="run the main job end to end on the embedded default",
                       description=__doc__, formatter_class=__import__("argparse").RawDescriptionHelpFormatter)
    p.add_argument("--out", default="out/demo", help="output folder (default out/demo)")
    p.add_argument("--stages", default=",".join(STAGES),
                   help=f"comma-separated subset of {','.join(STAGES)} (default: all)")
    p.add_argument("--robot", default="wx250s", help="robot for the sim, data and policy stages (default wx250s)")
    p.add_argument("--episodes", type=int, default=None, help="demonstrations the generate stage attempts")
    p.add_argument("--train-steps", type=int, default=None, help="training steps of the train stage")
    p.set_defaults(func=run, needs_ros=True)


def run(args) -> int:
    from dexsim_bringup import demo_stages

    stages = [s.strip() for s in args.stages.split(",") if s.strip()]
    unknown = [s for s in stages if s not in STAGES]
    if unknown:
        raise CLIError(f"--stages: unknown {unknown} (valid: {', '.join(STAGES)})")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    summary: dict = {"robot": args.robot, "stages": {}}
    ctx: dict = {"robot": args.robot, "out": out}
    for key in ("episodes", "train_steps"):
        value = getattr(args, key)
        if value is not None:
            if value < 1:
                raise CLIError(f"--{key.replace('_', '-')}: expected >= 1, got {value}")
            ctx[key] = value
    for stage in stages:
        print(f"\n=== demo stage: {stage} ===", flush=True)
        t0 = time.monotonic()
        result = getattr(demo_stages, f"stage_{stage}")(ctx)
        result["wall_s"] = round(time.monotonic() - t0, 1)
        summary["stages"][stage] = result
        print(json.dumps(result, indent=2, default=str), flush=True)
    (out / "summary.json").write_text(json.dumps(summary, indent=2, default=str))
    print(f"\ndemo: done; outputs in {out} (summary.json)")
    return 0
