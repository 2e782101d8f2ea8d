"""Training loop: AdamW, held-out validation by episode, latest/best checkpoints, resume,
loss-curve PNG. CUDA is used when available (``device="auto"``).

Reproducibility: torch, numpy and the data order are seeded from ``seed`` (and the start step on
resume); with the same seed, data and device a fresh run is repeatable. A resumed run restores
weights, optimizer and torch RNG, but its data order differs from an uninterrupted run.
"""
from __future__ import annotations

import json
import math
import os
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import DataLoader, RandomSampler
from tqdm import tqdm

from .checkpoint import load_checkpoint, load_training_state, save_checkpoint
from .data import ACTION_NAMES_FULL, WindowDataset, dataset_info, list_episodes, split_episodes
from .errors import CheckpointError, DatasetError, PolicyConfigError
from .models import BasePolicy, PolicyConfig, make_config, make_policy
from .normalizer import stats_from_array

LATEST_DIR = "latest"
BEST_DIR = "best"
HISTORY_FILE = "history.json"
LOSS_PNG = "loss_curve.png"
VAL_SEED_OFFSET = 1_000_003  # seeds the fixed validation noise, distinct from the training seed


@dataclass
class TrainConfig:
    steps: int = 1000
    batch_size: int = 16
    lr: float = 1e-4
    weight_decay: float = 1e-4
    grad_clip_norm: float = 10.0
    val_every: int = 100  # steps between validation passes (and latest/best checkpoints)
    val_fraction: float = 0.1  # share of episodes held out (at least one when >= 2 episodes)
    max_val_batches: int = 8
    seed: int = 0
    device: str = "auto"  # "auto" | "cpu" | "cuda" | "cuda:N"
    num_workers: int = 0
    resume: bool = True
    progress: bool = True

    def __post_init__(self) -> None:
        for name in ("steps", "batch_size", "val_every", "max_val_batches"):
            if getattr(self, name) < 1:
                raise PolicyConfigError(f"TrainConfig.{name}={getattr(self, name)}: expected >= 1")
        if not (self.lr > 0 and math.isfinite(self.lr)):
            raise PolicyConfigError(f"TrainConfig.lr={self.lr}: expected a finite value > 0")
        if self.weight_decay < 0 or self.grad_clip_norm <= 0:
            raise PolicyConfigError(f"TrainConfig.weight_decay={self.weight_decay} / grad_clip_norm="
                                    f"{self.grad_clip_norm}: expected >= 0 / > 0")
        if not 0 <= self.val_fraction < 1:
            raise PolicyConfigError(f"TrainConfig.val_fraction={self.val_fraction}: expected 0 <= v < 1")
        if self.num_workers < 0:
            raise PolicyConfigError(f"TrainConfig.num_workers={self.num_workers}: expected >= 0")
        if not (self.device in ("auto", "cpu") or self.device.startswith("cuda")):
            raise PolicyConfigError(f"TrainConfig.device={self.device!r}: expected 'auto', 'cpu' or 'cuda[:N]'")


def resolve_device(device: str) -> torch.device:
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise PolicyConfigError(f"device={device!r}: CUDA is not available")
    return torch.device(device)


def seed_everything(seed: int) -> None:
    torch.manual_seed(seed)
    np.random.seed(seed % 2**32)  # libraries that use the legacy global RNG
    torch.backends.cudnn.deterministic = True
    torch.backends.cudnn.benchmark = False


def make_dataset(config: PolicyConfig, episodes) -> WindowDataset:
    return WindowDataset(episodes, config.window_spec(), image_keys=config.image_keys, load_points=config.use_points,
                         state_keys=config.state_keys, action_indices=config.action_indices)


def compute_stats(dataset: WindowDataset) -> dict[str, dict[str, np.ndarray]]:
    return {k: stats_from_array(v) for k, v in dataset.feature_arrays().items()}


def _to_device(batch: dict[str, torch.Tensor], device: torch.device) -> dict[str, torch.Tensor]:
    return {k: v.to(device, non_blocking=True) for k, v in batch.items()}


def _validate(policy: BasePolicy, loader: DataLoader, device: torch.device, max_batches: int, seed: int) -> float:
    policy.eval()
    gen = torch.Generator().manual_seed(seed + VAL_SEED_OFFSET)
    losses = []
    with torch.no_grad():
        for i, batch in enumerate(loader):
            if i >= max_batches:
                break
            loss, _ = policy(_to_device(batch, device), generator=gen)
            losses.append(float(loss))
    policy.train()
    return float(np.mean(losses))


def plot_loss_curve(history: dict, path: Path) -> Path:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    if history["train"]:
        s, l = zip(*history["train"])
        ax.plot(s, l, label="train", alpha=0.8)
    if history["val"]:
        s, l = zip(*history["val"])
        ax.plot(s, l, "o-", label="validation")
    ax.set_xlabel("step")
    ax.set_ylabel("loss")
    ax.set_yscale("log")
    ax.legend()
    ax.grid(True, alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def _build_policy(policy: str | PolicyConfig | BasePolicy) -> BasePolicy:
    if isinstance(policy, BasePolicy):
        return policy
    if isinstance(policy, PolicyConfig):
        return make_policy(policy)
    if isinstance(policy, str):
        return make_policy(make_config(policy))
    raise PolicyConfigError(f"policy={policy!r}: expected a policy type name, a PolicyConfig or a BasePolicy")


def train(data_dir: str | os.PathLike, policy: str | PolicyConfig | BasePolicy, out_dir: str | os.PathLike,
          steps: int | None = None, batch_size: int | None = None, lr: float | None = None,
          val_every: int | None = None, seed: int | None = None, device: str | None = None,
          config: TrainConfig | None = None) -> dict:
    """Train ``policy`` on the dataset in ``data_dir``; checkpoints go to ``out_dir/{latest,best}``.

    Explicit arguments override ``config`` (default :class:`TrainConfig`). If ``out_dir/latest``
    exists (and ``config.resume``), training resumes from it and runs until ``steps`` in total.
    Returns a summary dict (losses, checkpoints, timings).
    """
    overrides = {k: v for k, v in dict(steps=steps, batch_size=batch_size, lr=lr, val_every=val_every,
                                       seed=seed, device=device).items() if v is not None}
    cfg = TrainConfig(**{**asdict(config or TrainConfig()), **overrides})
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    dev = resolve_device(cfg.device)
    seed_everything(cfg.seed)
    policy = _build_policy(policy)
    pcfg = policy.config

    episodes = list_episodes(data_dir)
    train_eps, val_eps = split_episodes(episodes, cfg.val_fraction, cfg.seed)
    info = dataset_info(data_dir)
    info.update(train_episodes=[e.key for e in train_eps], val_episodes=[e.key for e in val_eps])
    train_ds = make_dataset(pcfg, train_eps)
    width = train_ds[0]["state"].shape[-1]
    if width != pcfg.state_dim:
        raise DatasetError(f"state_dim={pcfg.state_dim} but the dataset's {pcfg.state_keys} are {width} wide; "
                           f"set {type(pcfg).__name__}(state_dim={width})")
    names = info.get("action_names") or list(ACTION_NAMES_FULL)
    action_names = [names[i] for i in pcfg.action_indices]

    start_step, history = 0, {"train": [], "val": []}
    latest = out / LATEST_DIR
    if cfg.resume and latest.is_dir():
        ckpt = load_checkpoint(latest, device="cpu")
        if ckpt.policy.config.to_dict() != pcfg.to_dict() or ckpt.policy.config.policy_type != pcfg.policy_type:
            raise CheckpointError(f"resume: {latest} holds a different policy config; use another out_dir")
        policy.load_state_dict(ckpt.policy.state_dict())
        policy.to(dev)
        optimizer = torch.optim.AdamW(policy.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
        load_training_state(latest, optimizer)
        start_step = ckpt.step
        if (out / HISTORY_FILE).is_file():
            history = json.loads((out / HISTORY_FILE).read_text())
    else:
        policy.normalizer.set_stats(compute_stats(train_ds))
        policy.to(dev)
        optimizer = torch.optim.AdamW(policy.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    policy.train()

    loader_gen = torch.Generator().manual_seed(cfg.seed + start_step)
    sampler = RandomSampler(train_ds, replacement=True, num_samples=max(len(train_ds), cfg.batch_size),
                            generator=loader_gen)
    loader = DataLoader(train_ds, batch_size=cfg.batch_size, sampler=sampler, num_workers=cfg.num_workers,
                        drop_last=True, pin_memory=dev.type == "cuda", persistent_workers=cfg.num_workers > 0)
    val_loader = (DataLoader(make_dataset(pcfg, val_eps), batch_size=cfg.batch_size, shuffle=False)
                  if val_eps else None)
    best_val = min((v for _, v in history["val"]), default=float("inf"))
    best_step = next((s for s, v in history["val"] if v == best_val), None)

    def save(path: Path, with_optimizer: bool, step: int) -> None:
        save_checkpoint(path, policy, step=step, dataset_info=info, action_names=action_names,
                        optimizer=optimizer if with_optimizer else None, extra={"train_config": asdict(cfg)})

    t0, n_samples, step = time.perf_counter(), 0, start_step
    bar = tqdm(total=cfg.steps, initial=start_step, disable=not cfg.progress, desc=f"train {pcfg.policy_type}")
    while step < cfg.steps:
        for batch in loader:
            if step >= cfg.steps:
                break
            loss, logs = policy(_to_device(batch, dev))
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(policy.parameters(), cfg.grad_clip_norm)
            optimizer.step()
            step += 1
            n_samples += cfg.batch_size
            loss_value = float(loss.detach())
            history["train"].append((step, loss_value))
            bar.update(1)
            bar.set_postfix(loss=f"{loss_value:.4f}")
            if step % cfg.val_every == 0 or step == cfg.steps:
                if val_loader is not None:
                    v = _validate(policy, val_loader, dev, cfg.max_val_batches, cfg.seed)
                    history["val"].append((step, v))
                    if v < best_val:
                        best_val, best_step = v, step
                        save(out / BEST_DIR, False, step)
                save(latest, True, step)
                (out / HISTORY_FILE).write_text(json.dumps(history))
    bar.close()
    wall = time.perf_counter() - t0
    if val_loader is None and step > start_step:
        save(out / BEST_DIR, False, step)
    png = plot_loss_curve(history, out / LOSS_PNG)
    train_losses = [l for _, l in history["train"]]
    return {
        "policy_type": pcfg.policy_type, "steps": step, "start_step": start_step, "device": str(dev),
        "initial_train_loss": train_losses[0] if train_losses else None,
        "final_train_loss": float(np.mean(train_losses[-10:])) if train_losses else None,
        "best_val_loss": best_val if math.isfinite(best_val) else None, "best_step": best_step,
        "latest_checkpoint": str(latest), "best_checkpoint": str(out / BEST_DIR), "loss_curve": str(png),
        "num_train_episodes": len(train_eps), "num_val_episodes": len(val_eps), "wall_s": wall,
        "train_samples_per_s": n_samples / wall if wall > 0 else None,
    }
