"""The `dexsim` command line: every DexSim job without a ROS install (pip mode).

Each verb lives in its own module of this package with `register(subparsers)`; heavy imports
happen inside the verb's `run`, so `dexsim --help` stays fast.
"""
from __future__ import annotations

import argparse
import importlib
import sys

# Verb modules, in the order `dexsim --help` lists them.
VERBS = ("doctor", "robots", "up", "demo", "bench", "generate", "train", "eval", "experiment", "export", "project", "real2sim", "bag2dataset", "calibrate", "fault")


class CLIError(RuntimeError):
    """A user-facing error: printed as one line, exit code 2."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="dexsim",
        description="DexSim: Real2Sim projection, simulation, Sim2Real data scaling, imitation "
        "policies and their ROS 2 deployment, from pip.")
    sub = parser.add_subparsers(dest="verb", metavar="VERB", required=True)
    for verb in VERBS:
        try:
            module = importlib.import_module(f"{__name__}.{verb.replace('-', '_')}")
        except ModuleNotFoundError as exc:
            if exc.name == f"{__name__}.{verb}":
                continue  # verb not built yet
            raise
        module.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    from dexsim_bringup.dds import DDSProfileError, apply_loopback
    from dexsim_sim.documents import DocumentError

    args = build_parser().parse_args(argv)
    try:
        if getattr(args, "needs_ros", False):
            apply_loopback()
        return int(args.func(args) or 0)
    except (CLIError, DDSProfileError, DocumentError) as exc:
        print(f"dexsim {args.verb}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"dexsim {args.verb}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
