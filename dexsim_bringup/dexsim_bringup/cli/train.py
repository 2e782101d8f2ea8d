"""`dexsim train`: train an imitation policy on a DexSim dataset.

The recipe is the policy's config plus a TrainConfig, both with shipped defaults; ``--config FILE``
(YAML: ``policy:`` a family, ``model:`` config fields, ``train:`` TrainConfig fields) replaces them
and ``--set model.image_size=[96,128] --set train.lr=3e-4`` overrides single fields (YAML values);
``--steps`` etc. override both. Checkpoints go to ``OUT/latest`` (raw weights + optimizer, for
resuming), ``OUT/ema`` (the weights' moving average) and ``OUT/best`` (with ``--eval-every``: the
highest closed-loop success on validation seeds, else the final EMA weights), the loss curve to
``OUT/loss_curve.png``, the resolved recipe to ``OUT/recipe.yaml``. An existing ``OUT/latest`` is
resumed only with ``--resume``; otherwise a non-empty ``OUT`` is refused.
"""
from __future__ import annotations

import json

# CLI names -> dexsim_policy policy types
POLICIES = {"act": "act", "diffusion": "diffusion", "pointcloud": "pointcloud_diffusion"}
DEVICES = ("auto", "cpu", "cuda")
DEFAULTS = {"steps": 3000, "batch_size": 32, "lr": 3e-4}    # the shipped recipe (TrainConfig holds the rest)
SECTIONS = ("model", "train")


def register(sub) -> None:
    p = sub.add_parser("train", help="train an imitation policy (ACT, diffusion, point-cloud diffusion)",
                       description=__doc__)
    p.add_argument("--data", required=True, help="dataset directory (shard_*.h5 + card.json)")
    p.add_argument("--policy", default=None, choices=sorted(POLICIES), help="policy family (or the config's)")
    p.add_argument("--out", required=True, metavar="RUN", help="run directory (checkpoints, loss curve)")
    p.add_argument("--config", default=None, metavar="FILE", help="recipe YAML (policy, model, train)")
    p.add_argument("--set", action="append", default=[], metavar="SECTION.FIELD=VALUE",
                   help="override one recipe field, e.g. model.horizon=20 or train.lr=1e-4 (repeatable)")
    p.add_argument("--steps", type=int, default=None, help=f"total optimizer steps (default {DEFAULTS['steps']})")
    p.add_argument("--batch-size", type=int, default=None, help=f"batch size (default {DEFAULTS['batch_size']})")
    p.add_argument("--lr", type=float, default=None, help=f"AdamW peak learning rate (default {DEFAULTS['lr']})")
    p.add_argument("--val-every", type=int, default=None, help="steps between validation/checkpoints")
    p.add_argument("--eval-every", type=int, default=None,
                   help="steps between closed-loop evaluations on validation seeds that choose best/ (0 = never)")
    p.add_argument("--eval-episodes", type=int, default=None, help="episodes per closed-loop evaluation")
    p.add_argument("--seed", type=int, default=None, help="seed of weights, data order and augmentation")
    p.add_argument("--resume", action="store_true", help="continue from RUN/latest up to --steps in total")
    p.add_argument("--device", default="auto", choices=DEVICES, help="auto = CUDA when available, else CPU")
    p.add_argument("--threads", type=int, default=1,
                   help="torch CPU threads (default 1: fastest on small shared CPUs)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument("--json", action="store_true", help="print the training summary as one JSON object")
    p.set_defaults(func=run, needs_ros=False)


def run(args) -> int:
    from pathlib import Path

    import torch

    from dexsim_bringup.cli import CLIError
    from dexsim_policy.data import list_episodes
    from dexsim_policy.errors import PolicyError
    from dexsim_policy.train import LATEST_DIR, TrainConfig, train

    out = Path(args.out)
    if (out / LATEST_DIR).is_dir() and not args.resume:
        raise CLIError(f"--out: {out} already holds a run; pass --resume to continue it or choose another directory")
    if args.resume and not (out / LATEST_DIR).is_dir():
        raise CLIError(f"--resume: {out / LATEST_DIR} does not exist")
    if args.threads < 1:
        raise CLIError(f"--threads: expected >= 1, got {args.threads}")
    torch.set_num_threads(args.threads)
    try:
        family, model_fields, train_fields = load_recipe(args)
        from dexsim_policy.models import make_config

        model = make_config(POLICIES[family], **model_fields)
        config = TrainConfig(**train_fields)
        list_episodes(args.data)                     # a bad dataset fails before --out is written
        _write_recipe(out, family, model, config)
        summary = train(args.data, model, out, config=config)
    except (PolicyError, ValueError, TypeError) as exc:
        raise CLIError(str(exc)) from None
    if args.json:
        print(json.dumps(summary, sort_keys=True))
        return 0
    print(f"trained {summary['policy_type']} to step {summary['steps']} (from {summary['start_step']}) on "
          f"{summary['device']} ({_fmt(summary['train_samples_per_s'])} samples/s)")
    print(f"train loss {_fmt(summary['initial_train_loss'])} -> {_fmt(summary['final_train_loss'])}; "
          f"validation loss {_fmt(summary['best_val_loss'])} (lowest)")
    if summary.get("best_rollout_success") is not None:
        print(f"best/: step {summary['best_step']}, closed-loop success {summary['best_rollout_success']:.0%} "
              "on validation seeds")
    else:
        print(f"best/: the final {'EMA ' if summary.get('ema') else ''}weights (step {summary['best_step']})")
    print(f"checkpoints: {summary['best_checkpoint']} (best), {summary['latest_checkpoint']} (latest)")
    print(f"loss curve: {summary['loss_curve']}")
    return 0


def _fmt(value) -> str:
    return "n/a" if value is None else f"{value:.4g}"


def load_recipe(args) -> tuple[str, dict, dict]:
    """(family, model fields, TrainConfig fields) from --config, --set and the flags, in that order."""
    import yaml

    from dexsim_bringup.cli import CLIError
    from dexsim_sim.documents import DocumentError, read_document

    recipe: dict = {"model": {}, "train": dict(DEFAULTS)}
    if args.config:
        try:
            loaded = read_document(args.config, what="--config") or {}
        except DocumentError as exc:
            raise CLIError(str(exc)) from None
        if not isinstance(loaded, dict) or set(loaded) - {"policy", *SECTIONS}:
            raise CLIError(f"--config: expected a mapping with keys policy, model, train; got {sorted(loaded)}"
                           if isinstance(loaded, dict) else "--config: expected a mapping")
        recipe["policy"] = loaded.get("policy")
        for section in SECTIONS:
            recipe[section].update(loaded.get(section) or {})
    for item in args.set:
        key, sep, text = item.partition("=")
        section, dot, name = key.partition(".")
        if not sep or not dot or section not in SECTIONS or not name:
            raise CLIError(f"--set {item!r}: expected SECTION.FIELD=VALUE with SECTION in {SECTIONS}")
        recipe[section][name] = yaml.safe_load(text)
    for flag in ("steps", "batch_size", "lr", "val_every", "eval_every", "eval_episodes", "seed"):
        if getattr(args, flag) is not None:
            recipe["train"][flag] = getattr(args, flag)
    recipe["train"].update(device=args.device, resume=args.resume, progress=not args.no_progress)
    family = args.policy or recipe.get("policy")
    if family not in POLICIES:
        raise CLIError(f"--policy: expected one of {sorted(POLICIES)} (or policy: in --config), got {family!r}")
    return family, recipe["model"], recipe["train"]


def _write_recipe(out, family: str, model, config) -> None:
    """The resolved recipe beside the checkpoints (what `--config` would need to repeat the run)."""
    from dataclasses import asdict

    import yaml

    out.mkdir(parents=True, exist_ok=True)
    doc = {"policy": family, "model": json.loads(json.dumps(model.to_dict())), "train": asdict(config)}
    (out / "recipe.yaml").write_text(yaml.safe_dump(doc, sort_keys=False))
