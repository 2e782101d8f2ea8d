"""`dexsim real2sim`: real data in, policy out, in one command (see dexsim_bringup.real2sim).

Projection of the stereo pair and the hand track, the projected skill replayed and verified in
simulation, a scaled physics-verified dataset in the projected scene and, with --policy, a policy
trained with the shipped recipe and rated on held-out seeds; a summary page (summary.md + PNGs) in
--out. Without inputs it runs on the bundled demo inputs (what `make demo` projects)."""
from __future__ import annotations

import json

from . import CLIError


def register(sub) -> None:
    p = sub.add_parser("real2sim", help="real stereo scene + hand demonstration -> verified dataset (-> policy)",
                       description=__doc__)
    p.add_argument("--left", default=None, help="left rectified image (default: bundled demo)")
    p.add_argument("--right", default=None, help="right rectified image (default: bundled demo)")
    p.add_argument("--depth", default=None, help="depth image instead of the right image (.npy float32 m)")
    p.add_argument("--camera-info", default=None, help="camera info YAML/JSON (default: bundled demo)")
    p.add_argument("--camera-pose", default=None, help="camera pose file or x,y,z,qx,qy,qz,qw of the left optical "
                                                       "frame in the robot base frame (default: bundled demo)")
    p.add_argument("--track", default=None, help="21-landmark hand track JSON of the demonstration (default: bundled)")
    p.add_argument("--depth-dir", default=None, help="per-frame depth of the track, <frame:06d>.npy (m) / .png (mm)")
    p.add_argument("--robot", default="wx250s", help="robot (default wx250s)")
    p.add_argument("--base-pose", default=None, help="robot base pose in the table frame, 7 numbers "
                                                     "(default: the robot's grasp-scene pose)")
    p.add_argument("--joints", default=None, help="the arm's joint state in the pair, name=value,... (default: home)")
    p.add_argument("--out", required=True, help="output folder (summary.md, summary.json, project/, generate/, train/)")
    p.add_argument("--episodes", type=int, default=50, help="demonstrations to attempt (default 50)")
    p.add_argument("--workers", type=int, default=1, help="generation worker processes (default 1)")
    p.add_argument("--image-size", default="96x128", help="stored image size HxW (default 96x128)")
    p.add_argument("--policy", default=None, choices=("act", "diffusion", "pointcloud"),
                   help="also train this policy family and rate it in process (default: data only)")
    p.add_argument("--steps", type=int, default=None, help="training steps (default: the shipped recipe's)")
    p.add_argument("--eval-episodes", type=int, default=20, help="held-out seeds for the rating (default 20)")
    p.add_argument("--threads", type=int, default=2, help="torch CPU threads for training (default 2)")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    p.set_defaults(func=run, needs_ros=False)


def run(args) -> int:
    from pathlib import Path

    from dexsim_sim.projection.pipeline import INPUT_ERRORS, RealInputs, demo_inputs, parse_pose7
    from dexsim_sim.robots.registry import UnknownRobotError, get_robot
    from dexsim_sim.skills.keypose import SkillError

    from dexsim_bringup import real2sim

    from .generate import parse_image_size
    from .project import _joints

    for flag in ("episodes", "workers", "eval_episodes", "threads"):
        if getattr(args, flag) < 1:
            raise CLIError(f"--{flag.replace('_', '-')}: expected >= 1, got {getattr(args, flag)}")
    if args.steps is not None and args.steps < 1:
        raise CLIError(f"--steps: expected >= 1, got {args.steps}")
    out = Path(args.out)
    if (out / "generate" / "dataset").exists():
        raise CLIError(f"--out: {out} already holds a real2sim run; choose another directory")
    try:
        get_robot(args.robot)
        image_hw = parse_image_size(args.image_size)
        given = {k: getattr(args, k) for k in ("left", "right", "camera_info", "camera_pose", "track")}
        if args.depth:
            given.pop("right")
        if not all(given.values()):
            if any(given.values()):
                missing = ", ".join(f"--{k.replace('_', '-')}" for k, v in given.items() if not v)
                raise CLIError(f"inputs: give all of the scene and demonstration inputs or none (missing {missing})")
            given = {k: str(v) for k, v in demo_inputs().items() if k in given}
        base_pose = tuple(parse_pose7(args.base_pose, "--base-pose")) if args.base_pose else None
        inputs = RealInputs(given["left"], given.get("right"), given["camera_info"], given["camera_pose"],
                            given["track"], args.robot, base_pose, _joints(args.joints), args.depth, args.depth_dir)
        summary = real2sim.run(inputs, out, episodes=args.episodes, workers=args.workers, image_hw=image_hw,
                               policy=args.policy, train_steps=args.steps, eval_episodes=args.eval_episodes,
                               threads=args.threads, progress=not args.no_progress)
    except INPUT_ERRORS + (UnknownRobotError, SkillError, real2sim.Real2SimError) as exc:
        raise CLIError(str(exc)) from None
    print(json.dumps({"summary": str(out / real2sim.SUMMARY_FILE),
                      "dataset": summary["stages"]["generate"]["dataset"],
                      "verified": f"{summary['stages']['generate']['episodes_written']}/{args.episodes}",
                      **({"checkpoint": summary["stages"]["train"]["checkpoint"],
                          "held_out_success": f"{summary['stages']['train']['successes']}/"
                                              f"{summary['stages']['train']['episodes']}"}
                         if "train" in summary["stages"] else {})}, indent=2))
    return 0
