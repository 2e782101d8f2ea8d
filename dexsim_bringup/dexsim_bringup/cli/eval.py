"""`dexsim eval`: closed-loop success rate of a policy checkpoint, with 95 % Wilson intervals per
task and per domain-randomization condition.

By default the sim node and the policy node run as separate ROS 2 processes (the simulated
bringup) and each episode is reset, run and stopped over DDS, rated by the sim node's task check
on /dexsim/episode. ``--in-process`` runs the sim node's core and the policy node's controller in
this process: the same execution path without the transport. Both evaluate held-out seeds
(never a training seed), in the scene and with the renderer the checkpoint's dataset was made in
unless ``--scene`` / ``--renderer`` say otherwise, and with ``--spec`` also under DR.
"""
from __future__ import annotations

import json
from pathlib import Path


def register(sub) -> None:
    from dexsim_bringup.graph import ROBOTS, TASKS

    p = sub.add_parser("eval", help="closed-loop evaluation of a policy checkpoint (success rate, 95%% CI)",
                       description=__doc__)
    p.add_argument("--checkpoint", required=True, metavar="RUN",
                   help="checkpoint directory, or a training run directory (its best/ checkpoint is used)")
    p.add_argument("--episodes", type=int, default=10, help="episodes per condition (default 10)")
    p.add_argument("--robot", default=None, choices=ROBOTS, help="robot (default: the checkpoint's dataset robot)")
    p.add_argument("--task", default=None, choices=TASKS, help="task (default: the checkpoint's dataset task)")
    p.add_argument("--spec", default=None, help="DR spec file or task name: also evaluate under DR (in-process)")
    p.add_argument("--per-factor", action="store_true", help="with --spec: also one condition per DR factor")
    p.add_argument("--seed", type=int, default=0, help="base seed of the evaluation episodes")
    p.add_argument("--episode-s", "--episode-sim-s", dest="episode_s", type=float, default=None,
                   help="sim seconds per episode (default: 8, or 1.5 x the mean demonstration of the "
                        "checkpoint's dataset when longer)")
    p.add_argument("--scene", default=None, help="scene file (default: the scene of the checkpoint's dataset)")
    p.add_argument("--renderer", default=None, choices=("auto", "egl", "tiny"),
                   help="renderer (default: the checkpoint's dataset's)")
    p.add_argument("--latency", type=float, default=0.0,
                   help="in-process: modelled inference latency, s of sim time (default 0)")
    p.add_argument("--in-process", action="store_true", help="run env and policy in this process (rated episodes)")
    p.add_argument("--log-dir", default=None, help="over ROS: write the node logs here")
    p.add_argument("--threads", type=int, default=1, help="torch CPU threads (default 1)")
    p.add_argument("--json", action="store_true", help="print the result as one JSON object")
    p.set_defaults(func=run, needs_ros=True)


def resolve_checkpoint(path: str) -> Path:
    """A checkpoint directory, or a run directory holding best/ (else latest/)."""
    from dexsim_policy.checkpoint import META_FILE

    root = Path(path)
    for candidate in (root, root / "best", root / "latest"):
        if (candidate / META_FILE).is_file():
            return candidate
    raise FileNotFoundError(f"--checkpoint: no {META_FILE} in {root} or its best/ or latest/")


def run(args) -> int:
    import torch

    from dexsim_bringup.cli import CLIError
    from dexsim_policy.errors import PolicyError
    from dexsim_bringup.ros_evaluation import evaluate_over_ros
    from dexsim_policy.evaluation import EvaluationError, evaluate_in_process

    if args.episodes < 1:
        raise CLIError(f"--episodes: expected >= 1, got {args.episodes}")
    if args.threads < 1:
        raise CLIError(f"--threads: expected >= 1, got {args.threads}")
    try:
        ckpt = resolve_checkpoint(args.checkpoint)
    except FileNotFoundError as exc:
        raise CLIError(str(exc)) from None
    torch.set_num_threads(args.threads)
    progress = not args.json
    try:
        if args.in_process:
            result = evaluate_in_process(ckpt, args.robot, args.task, args.episodes, args.spec, args.seed,
                                         per_factor=args.per_factor, episode_s=args.episode_s, progress=progress,
                                         scene_file=args.scene, renderer=args.renderer, latency_s=args.latency)
        else:
            common = dict(episode_sim_s=args.episode_s, log_dir=args.log_dir, progress=progress,
                          scene_file=args.scene, renderer=args.renderer)
            result = evaluate_over_ros(ckpt, args.robot, args.task, args.episodes, args.seed, **common)
            if args.spec:
                result["dr"] = evaluate_over_ros(ckpt, args.robot, args.task, args.episodes, args.seed,
                                                 spec=args.spec, **common)
            if args.per_factor:
                result["note"] = "--per-factor conditions are evaluated with --in-process only"
    except (EvaluationError, PolicyError, ValueError) as exc:
        raise CLIError(str(exc)) from None
    if args.json:
        print(json.dumps(result, sort_keys=True))
        return 0
    print(f"{result['mode']} evaluation of {result['checkpoint']} on {result['robot']}/{result['task']}")
    for source in (result, result.get("dr")):
        for name, c in (source or {}).get("conditions", {}).items():
            if c["success_rate"] is None:
                print(f"  {name:24s} {c['episodes']} episodes completed (success not reported over ROS)")
            else:
                lo, hi = c["ci95"]
                print(f"  {name:24s} {c['successes']}/{c['rated']} = {c['success_rate']:.0%} "
                      f"(95% CI {lo:.0%}-{hi:.0%})")
    if result.get("note"):
        print(f"note: {result['note']}")
    return 0
