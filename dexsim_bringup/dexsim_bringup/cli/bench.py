"""`dexsim bench {sim,generate,policy,loop,learn}`: speed (and, for `learn`, learning) figures as one JSON object.

Each benchmark measures its baseline in the same run (e.g. the renderer-only rate next to the
full data-generation rate), so the ratios mean something on any machine. Speed goals live here,
never in timed tests.
"""
from __future__ import annotations

import json
import platform
import time

from . import CLIError

TARGETS = {
    "sim": ("dexsim_sim.bench", "bench_sim"),
    "generate": ("dexsim_sim.scaling.bench", "bench_generate"),
    "policy": ("dexsim_bringup.bench_policy", "bench_policy"),
    "learn": ("dexsim_policy.bench_learn", "bench_learn"),
    "loop": ("dexsim_bringup.bench_loop", "bench_loop"),
}


def register(sub) -> None:
    p = sub.add_parser("bench", help="benchmarks (JSON out): sim, generate, policy, loop, learn", description=__doc__)
    p.add_argument("target", choices=sorted(TARGETS), help="what to measure")
    p.add_argument("--json", action="store_true", help="print only the JSON object (default: JSON plus a header)")
    p.add_argument("--out", default=None, help="also write the JSON object to this file")
    learn = p.add_argument_group("learn (success vs demonstrations; resumable)")
    learn.add_argument("--work", default="out/bench_learn", help="work directory: dataset, runs, results, PNG")
    learn.add_argument("--data", default=None, help="dataset to draw demonstrations from (default: generate one)")
    learn.add_argument("--robot", default="wx250s", help="robot (default wx250s)")
    learn.add_argument("--task", default="grasp", help="task (default grasp)")
    learn.add_argument("--demos", default="25,50,100,200", help="demonstration counts (default 25,50,100,200)")
    learn.add_argument("--episodes", type=int, default=50, help="held-out evaluation episodes per count (default 50)")
    learn.add_argument("--steps", type=int, default=3000, help="training steps per count (default 3000)")
    learn.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's)")
    loop = p.add_argument_group("loop (sim node + policy node closed loop)")
    loop.add_argument("--checkpoint", default=None, help="policy checkpoint (default: the shipped demo policy)")
    loop.add_argument("--seconds", type=float, default=20.0, help="wall seconds with the policy active (default 20)")
    p.set_defaults(func=run, needs_ros=True)


def _learn_kwargs(args) -> dict:
    try:
        demos = tuple(int(v) for v in args.demos.split(","))
    except ValueError:
        raise CLIError(f"--demos: expected comma-separated integers, got {args.demos!r}") from None
    if args.episodes < 1 or args.steps < 1:
        raise CLIError(f"--episodes / --steps: expected >= 1, got {args.episodes} / {args.steps}")
    if args.threads is not None:
        import torch

        torch.set_num_threads(args.threads)
    return dict(work=args.work, data=args.data, robot=args.robot, task=args.task, demos=demos,
                episodes=args.episodes, steps=args.steps, progress=not args.json)


def run(args) -> int:
    import importlib
    import os

    module_name, fn_name = TARGETS[args.target]
    try:
        fn = getattr(importlib.import_module(module_name), fn_name)
    except (ImportError, AttributeError) as exc:
        raise CLIError(f"benchmark {args.target!r} is not available: {exc}") from exc
    kwargs = _learn_kwargs(args) if args.target == "learn" else {}
    if args.target == "loop":
        kwargs = {"checkpoint": args.checkpoint, "seconds": args.seconds}
    t0 = time.monotonic()
    try:
        result = dict(fn(**kwargs))
    except ValueError as exc:
        raise CLIError(f"bench {args.target}: {exc}") from None
    result.setdefault("machine", {"cpus": os.cpu_count(), "platform": platform.platform(),
                                  "python": platform.python_version()})
    result["bench_wall_s"] = round(time.monotonic() - t0, 1)
    text = json.dumps(result, indent=None if args.json else 2, sort_keys=True)
    if args.out:
        with open(args.out, "w") as fh:
            fh.write(text + "\n")
    if not args.json:
        print(f"# dexsim bench {args.target}")
    print(text)
    return 0
