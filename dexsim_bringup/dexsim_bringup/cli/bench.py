"""`dexsim bench {sim,generate,policy}`: speed figures as one JSON object.

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
}


def register(sub) -> None:
    p = sub.add_parser("bench", help="benchmarks (JSON out): sim, generate, policy", description=__doc__)
    p.add_argument("target", choices=sorted(TARGETS), help="what to measure")
    p.add_argument("--json", action="store_true", help="print only the JSON object (default: JSON plus a header)")
    p.add_argument("--out", default=None, help="also write the JSON object to this file")
    p.set_defaults(func=run, needs_ros=True)


def run(args) -> int:
    import importlib
    import os

    module_name, fn_name = TARGETS[args.target]
    try:
        fn = getattr(importlib.import_module(module_name), fn_name)
    except (ImportError, AttributeError) as exc:
        raise CLIError(f"benchmark {args.target!r} is not available: {exc}") from exc
    t0 = time.monotonic()
    result = dict(fn())
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
