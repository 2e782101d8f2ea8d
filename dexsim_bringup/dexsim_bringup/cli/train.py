"""`dexsim train`: train an imitation policy on a DexSim dataset.

Checkpoints go to ``OUT/latest`` (with optimizer state, for resuming) and ``OUT/best`` (lowest
validation loss), the loss curve to ``OUT/loss_curve.png``. An existing ``OUT/latest`` is resumed
only with ``--resume``; otherwise a non-empty ``OUT`` is refused.
"""
from __future__ import annotations

import json

# CLI names -> dexsim_policy policy types
POLICIES = {"act": "act", "diffusion": "diffusion", "pointcloud": "pointcloud_diffusion"}
DEVICES = ("auto", "cpu", "cuda")


def register(sub) -> None:
    p = sub.add_parser("train", help="train an imitation policy (ACT, diffusion, point-cloud diffusion)",
                       description=__doc__)
    p.add_argument("--data", required=True, help="dataset directory (shard_*.h5 + card.json)")
    p.add_argument("--policy", required=True, choices=sorted(POLICIES), help="policy family")
    p.add_argument("--out", required=True, metavar="RUN", help="run directory (checkpoints, loss curve)")
    p.add_argument("--steps", type=int, default=1000, help="total optimizer steps (default 1000)")
    p.add_argument("--batch-size", type=int, default=16, help="batch size (default 16)")
    p.add_argument("--lr", type=float, default=1e-4, help="AdamW learning rate (default 1e-4)")
    p.add_argument("--val-every", type=int, default=100, help="steps between validation/checkpoints (default 100)")
    p.add_argument("--seed", type=int, default=0, help="seed of weights, data order and augmentation")
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
        config = TrainConfig(steps=args.steps, batch_size=args.batch_size, lr=args.lr, val_every=args.val_every,
                             seed=args.seed, device=args.device, resume=args.resume, progress=not args.no_progress)
        summary = train(args.data, POLICIES[args.policy], out, config=config)
    except (PolicyError, ValueError) as exc:
        raise CLIError(str(exc)) from None
    if args.json:
        print(json.dumps(summary, sort_keys=True))
        return 0
    print(f"trained {summary['policy_type']} to step {summary['steps']} (from {summary['start_step']}) on "
          f"{summary['device']} ({_fmt(summary['train_samples_per_s'])} samples/s)")
    print(f"train loss {_fmt(summary['initial_train_loss'])} -> {_fmt(summary['final_train_loss'])}; "
          f"best validation loss {_fmt(summary['best_val_loss'])} at step {summary['best_step']}")
    print(f"checkpoints: {summary['best_checkpoint']} (best), {summary['latest_checkpoint']} (latest)")
    print(f"loss curve: {summary['loss_curve']}")
    return 0


def _fmt(value) -> str:
    return "n/a" if value is None else f"{value:.4g}"
