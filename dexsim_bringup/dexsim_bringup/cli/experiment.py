"""`dexsim experiment sim2real`: the paper's Table 2 (four datasets x the appendix A.2 domain gaps)
on your robot, task and scene; resumable (rerun the same command to continue).

``--config FILE`` is a YAML of :class:`dexsim_policy.experiment.ExperimentConfig` fields (robot,
task, scene, real_scene, columns, policies, gaps, demos, steps, trials, image_size, workers, seed);
flags override it. ``--quick``: tiny (a few demonstrations, a few steps, 5 trials per cell): the
pipeline end to end in minutes, its figures mean nothing.
"""
from __future__ import annotations

import json


def register(sub) -> None:
    p = sub.add_parser("experiment", help="Sim2Real experiments: `sim2real` = the paper's Table 2 (resumable)",
                       description=__doc__)
    p.add_argument("kind", choices=["sim2real"], help="which experiment")
    p.add_argument("--out", required=True, help="work directory: datasets, runs, cells, table.md/.png, results.json")
    p.add_argument("--config", default=None, help="experiment YAML (ExperimentConfig fields)")
    p.add_argument("--quick", action="store_true", help="the tiny profile (CI): complete table, meaningless figures")
    p.add_argument("--robot", default=None)
    p.add_argument("--task", default=None)
    p.add_argument("--scene", default=None, help="scene file the datasets are generated in (default: the task's)")
    p.add_argument("--real-scene", default=None, help="scene of the Real2Sim row (e.g. the ground truth of --scene)")
    p.add_argument("--gaps", default=None, help="comma-separated gap names or files (default: every shipped gap)")
    p.add_argument("--columns", default=None, help="comma-separated of skills_only,dr,da,dexsim (default: all)")
    p.add_argument("--demos", type=int, default=None, help="verified demonstrations per dataset")
    p.add_argument("--steps", type=int, default=None, help="training steps per policy")
    p.add_argument("--trials", type=int, default=None, help="closed-loop episodes per cell")
    p.add_argument("--workers", type=int, default=None, help="processes for generation and cells")
    p.add_argument("--seed", type=int, default=None)
    p.add_argument("--json", action="store_true", help="print results.json's summary as JSON")
    p.set_defaults(func=run, needs_ros=False)


def _split(text):
    return None if text is None else tuple(v for v in text.split(",") if v)


def run(args) -> int:
    from dexsim_bringup.cli import CLIError
    from dexsim_policy.errors import PolicyError
    from dexsim_policy.experiment import ExperimentConfig, ExperimentError, run_experiment
    from dexsim_sim.scaling.generate import GenerateError

    try:
        config = ExperimentConfig.load(args.config, "quick" if args.quick else "full", robot=args.robot,
                                       task=args.task, scene=args.scene, real_scene=args.real_scene,
                                       gaps=_split(args.gaps), columns=_split(args.columns), demos=args.demos,
                                       steps=args.steps, trials=args.trials, workers=args.workers, seed=args.seed)
        report = run_experiment(config, args.out, progress=not args.json)
    except (ExperimentError, GenerateError, PolicyError, ValueError) as exc:
        raise CLIError(str(exc)) from None
    if args.json:
        print(json.dumps({k: report[k] for k in ("table", "plot", "rows", "columns", "wall_s")}, sort_keys=True))
        return 0
    print(open(report["table"], encoding="utf-8").read())
    print(f"table: {report['table']}\nheat map: {report['plot']}\nall cells: {args.out}/results.json "
          f"({report['wall_s']:.0f} s)")
    return 0
