"""Training loop: AdamW with linear warmup and a cosine decay, an exponential moving average (EMA)
of the weights (what the checkpoints hold for inference), data preloaded in memory, held-out
validation loss by episode, optional checkpoint selection by closed-loop success on validation
seeds (disjoint from the evaluation seeds), resume, loss-curve PNG. CUDA is used when available.

Checkpoints: ``latest/`` (raw weights + optimizer: resume), ``ema/`` (the EMA weights at the last
validation), ``best/`` (with ``eval_every``: the EMA weights with the highest rollout success, later
wins ties; otherwise the final EMA weights; validation loss on a few episodes is a poor proxy
for success, so it only decides when there is nothing better).

Reproducibility: torch, numpy and the data order are seeded from ``seed`` (and the start step on
resume); with the same seed, data and device a fresh run is repeatable. A resumed run restores
weights, optimizer and torch RNG, but its data order differs from an uninterrupted run.
"""
from __future__ import annotations

import json
import math
import os
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import DataLoader, RandomSampler
from tqdm import tqdm

from .checkpoint import load_checkpoint, load_training_state, save_checkpoint
from .data import (ACTION_NAMES_FULL, DEFAULT_ACTION_INDICES, DEFAULT_STATE_KEYS, WindowDataset, arm_layout, dataset_info,
                   list_episodes, split_episodes)
from .errors import CheckpointError, DatasetError, PolicyConfigError
from .models import BasePolicy, PolicyConfig, make_config, make_policy
from .normalizer import stats_from_array

LATEST_DIR = "latest"
BEST_DIR = "best"
EMA_DIR = "ema"
LR_SCHEDULES = ("cosine", "constant")
VALIDATION_SEED_BASE = 500   # rollout validation seeds: evaluation base seed 500, never a test base (0..499)
HISTORY_FILE = "history.json"
LOSS_PNG = "loss_curve.png"
VAL_SEED_OFFSET = 1_000_003  # seeds the fixed validation noise, distinct from the training seed


MAX_STEPS = 10_000_000           # optimizer steps: beyond this a request is a typo, not a run
MAX_BATCH_SIZE = 65_536


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
    warmup_steps: int = 200          # linear LR warmup from 0
    lr_schedule: str = "cosine"      # "cosine" (to lr_min_ratio * lr at the last step) | "constant"
    lr_min_ratio: float = 0.05
    ema_decay: float = 0.995         # 0 = no EMA (checkpoints hold the raw weights)
    preload: bool = True             # read the dataset into memory once
    eval_every: int = 0              # steps between rollout evaluations for best/ (0 = never)
    eval_episodes: int = 10          # validation-seed episodes per rollout evaluation
    max_episodes: int = 0            # train on the dataset's first N episodes (seed order); 0 = all

    def __post_init__(self) -> None:
        for name, high in (("steps", MAX_STEPS), ("batch_size", MAX_BATCH_SIZE), ("val_every", MAX_STEPS),
                           ("max_val_batches", MAX_STEPS)):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= high:
                raise PolicyConfigError(f"TrainConfig.{name}={value!r}: expected an integer in [1, {high}]")
        if not (self.lr > 0 and math.isfinite(self.lr)):
            raise PolicyConfigError(f"TrainConfig.lr={self.lr}: expected a finite value > 0")
        if self.weight_decay < 0 or self.grad_clip_norm <= 0:
            raise PolicyConfigError(f"TrainConfig.weight_decay={self.weight_decay} / grad_clip_norm="
                                    f"{self.grad_clip_norm}: expected >= 0 / > 0")
        if not 0 <= self.val_fraction < 1:
            raise PolicyConfigError(f"TrainConfig.val_fraction={self.val_fraction}: expected 0 <= v < 1")
        if self.num_workers < 0:
            raise PolicyConfigError(f"TrainConfig.num_workers={self.num_workers}: expected >= 0")
        if self.max_episodes < 0:
            raise PolicyConfigError(f"TrainConfig.max_episodes={self.max_episodes}: expected >= 0 (0 = all)")
        if self.warmup_steps < 0 or self.eval_every < 0 or self.eval_episodes < 1:
            raise PolicyConfigError(f"TrainConfig.warmup_steps={self.warmup_steps} / eval_every={self.eval_every} / "
                                    f"eval_episodes={self.eval_episodes}: expected >= 0 / >= 0 / >= 1")
        if self.lr_schedule not in LR_SCHEDULES:
            raise PolicyConfigError(f"TrainConfig.lr_schedule={self.lr_schedule!r}: expected one of {LR_SCHEDULES}")
        if not (0.0 <= self.lr_min_ratio <= 1.0 and 0.0 <= self.ema_decay < 1.0):
            raise PolicyConfigError(f"TrainConfig.lr_min_ratio={self.lr_min_ratio} / ema_decay={self.ema_decay}: "
                                    "expected in [0, 1] / [0, 1)")
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


def make_dataset(config: PolicyConfig, episodes, preload: bool = False) -> WindowDataset:
    return WindowDataset(episodes, config.window_spec(), image_keys=config.image_keys, load_points=config.use_points,
                         state_keys=config.state_keys, action_indices=config.action_indices, preload=preload)


def lr_factor(step: int, cfg: TrainConfig) -> float:
    """Multiplier of ``cfg.lr`` at optimizer step ``step`` (0-based): warmup, then cosine or constant."""
    if cfg.warmup_steps and step < cfg.warmup_steps:
        return (step + 1) / cfg.warmup_steps
    if cfg.lr_schedule == "constant":
        return 1.0
    span = max(cfg.steps - cfg.warmup_steps, 1)
    progress = min(max(step - cfg.warmup_steps, 0) / span, 1.0)
    return cfg.lr_min_ratio + (1.0 - cfg.lr_min_ratio) * 0.5 * (1.0 + math.cos(math.pi * progress))


class EMA:
    """Exponential moving average of a policy's floating-point parameters and buffers, with the
    decay warmed up as ``min(decay, (1 + n) / (10 + n))`` (n = updates) so early weights fade fast."""

    def __init__(self, policy: BasePolicy, decay: float) -> None:
        import copy

        self.decay = decay
        self.model = copy.deepcopy(policy).eval()
        for param in self.model.parameters():
            param.requires_grad_(False)
        self.updates = 0

    @torch.no_grad()
    def update(self, policy: BasePolicy) -> None:
        self.updates += 1
        d = min(self.decay, (1.0 + self.updates) / (10.0 + self.updates))
        src = policy.state_dict()
        for key, value in self.model.state_dict().items():
            if value.dtype.is_floating_point and "normalizer" not in key:
                value.mul_(d).add_(src[key].detach(), alpha=1.0 - d)
            else:
                value.copy_(src[key])


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


def _rollout_success(checkpoint: Path, episodes: int, device: torch.device) -> float:
    """Closed-loop success rate of ``checkpoint`` on the validation seeds (in process)."""
    from .evaluation import evaluate_in_process

    threads = torch.get_num_threads()
    try:
        result = evaluate_in_process(checkpoint, episodes=episodes, seed=VALIDATION_SEED_BASE,
                                     device="cuda" if device.type == "cuda" else "cpu")
    finally:
        torch.set_num_threads(threads)
    return float(result["conditions"]["nominal"]["success_rate"])


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
    handles, labels = ax.get_legend_handles_labels()
    if history.get("rollout"):
        s, r = zip(*history["rollout"])
        twin = ax.twinx()
        line, = twin.plot(s, [100 * v for v in r], "s--", color="tab:green", label="closed-loop success (validation seeds)")
        twin.set_ylabel("success (%)")
        twin.set_ylim(0, 105)
        handles, labels = handles + [line], labels + [line.get_label()]
    ax.legend(handles, labels, loc="upper right", fontsize=8)
    ax.grid(True, alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def fit_to_dataset(config: PolicyConfig, info: dict) -> PolicyConfig:
    """A multi-arm dataset drives every arm: a config still at the one-arm action/state defaults gets
    :func:`~dexsim_policy.data.arm_layout` (each arm's joints and gripper, from every arm's state)."""
    arms = int(info.get("num_arms", 1) or 1)
    if arms == 1 or (config.action_indices, config.state_keys) != (DEFAULT_ACTION_INDICES, DEFAULT_STATE_KEYS):
        return config
    indices, keys, _ = arm_layout(arms)
    state_dim = int(info.get("num_joints") or 6 * arms) + arms
    return replace(config, action_indices=indices, state_keys=keys, state_dim=state_dim)


def _build_policy(policy: str | PolicyConfig | BasePolicy, info: dict) -> BasePolicy:
    if isinstance(policy, BasePolicy):
        return policy
    if isinstance(policy, PolicyConfig):
        return make_policy(fit_to_dataset(policy, info))
    if isinstance(policy, str):
        return make_policy(fit_to_dataset(make_config(policy), info))
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
    episodes = list_episodes(data_dir)                 # a bad dataset fails before out_dir is created
    info = dataset_info(data_dir)
    out.mkdir(parents=True, exist_ok=True)
    dev = resolve_device(cfg.device)
    seed_everything(cfg.seed)
    policy = _build_policy(policy, info)
    pcfg = policy.config

    if cfg.max_episodes:
        if cfg.max_episodes > len(episodes):
            raise DatasetError(f"max_episodes={cfg.max_episodes}: the dataset holds only {len(episodes)} episodes")
        episodes = episodes[:cfg.max_episodes]
    train_eps, val_eps = split_episodes(episodes, cfg.val_fraction, cfg.seed)
    info.update(train_episodes=[e.key for e in train_eps], val_episodes=[e.key for e in val_eps])
    train_ds = make_dataset(pcfg, train_eps, preload=cfg.preload)
    width = train_ds[0]["state"].shape[-1]
    if width != pcfg.state_dim:
        raise DatasetError(f"state_dim={pcfg.state_dim} but the dataset's {pcfg.state_keys} are {width} wide; "
                           f"set {type(pcfg).__name__}(state_dim={width})")
    names = info.get("action_names") or list(ACTION_NAMES_FULL)
    action_names = [names[i] for i in pcfg.action_indices]

    start_step, history = 0, {"train": [], "val": [], "rollout": []}
    latest = out / LATEST_DIR
    resuming = cfg.resume and latest.is_dir()
    if resuming:
        ckpt = load_checkpoint(latest, device="cpu")
        if ckpt.policy.config.to_dict() != pcfg.to_dict() or ckpt.policy.config.policy_type != pcfg.policy_type:
            raise CheckpointError(f"resume: {latest} holds a different policy config; use another out_dir")
        policy.load_state_dict(ckpt.policy.state_dict())
        policy.to(dev)
        optimizer = torch.optim.AdamW(policy.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
        load_training_state(latest, optimizer)
        start_step = ckpt.step
        if (out / HISTORY_FILE).is_file():
            history = {"rollout": [], **json.loads((out / HISTORY_FILE).read_text())}
    else:
        policy.normalizer.set_stats(compute_stats(train_ds))
        policy.to(dev)
        optimizer = torch.optim.AdamW(policy.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    policy.train()
    ema = EMA(policy, cfg.ema_decay) if cfg.ema_decay > 0 else None
    if ema is not None and resuming and (out / EMA_DIR).is_dir():
        ema.model.load_state_dict(load_checkpoint(out / EMA_DIR, device="cpu").policy.state_dict())
        ema.updates = start_step
    inference = ema.model if ema is not None else policy      # what the checkpoints for inference hold

    loader_gen = torch.Generator().manual_seed(cfg.seed + start_step)
    sampler = RandomSampler(train_ds, replacement=True, num_samples=max(len(train_ds), cfg.batch_size),
                            generator=loader_gen)
    loader = DataLoader(train_ds, batch_size=cfg.batch_size, sampler=sampler, num_workers=cfg.num_workers,
                        drop_last=True, pin_memory=dev.type == "cuda", persistent_workers=cfg.num_workers > 0)
    val_loader = (DataLoader(make_dataset(pcfg, val_eps, preload=cfg.preload), batch_size=cfg.batch_size,
                             shuffle=False) if val_eps else None)
    best_val = min((v for _, v in history["val"]), default=float("inf"))
    best_success = max((r for _, r in history["rollout"]), default=-1.0)
    best_step = next((s for s, r in reversed(history["rollout"]) if r == best_success), None)

    def save(path: Path, model: BasePolicy, step: int, with_optimizer: bool = False) -> None:
        save_checkpoint(path, model, step=step, dataset_info=info, action_names=action_names,
                        optimizer=optimizer if with_optimizer else None, extra={"train_config": asdict(cfg)})

    t0, n_samples, step = time.perf_counter(), 0, start_step
    bar = tqdm(total=cfg.steps, initial=start_step, disable=not cfg.progress, desc=f"train {pcfg.policy_type}")
    postfix: dict[str, str] = {}
    while step < cfg.steps:
        for batch in loader:
            if step >= cfg.steps:
                break
            for group in optimizer.param_groups:
                group["lr"] = cfg.lr * lr_factor(step, cfg)
            loss, logs = policy(_to_device(batch, dev))
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(policy.parameters(), cfg.grad_clip_norm)
            optimizer.step()
            if ema is not None:
                ema.update(policy)
            step += 1
            n_samples += cfg.batch_size
            loss_value = float(loss.detach())
            history["train"].append((step, loss_value))
            bar.update(1)
            postfix["loss"] = f"{loss_value:.4f}"
            bar.set_postfix(postfix)
            if step % cfg.val_every == 0 or step == cfg.steps:
                if val_loader is not None:
                    v = _validate(inference, val_loader, dev, cfg.max_val_batches, cfg.seed)
                    inference.eval()
                    history["val"].append((step, v))
                    best_val = min(best_val, v)
                    postfix["val"] = f"{v:.4f}"
                save(latest, policy, step, with_optimizer=True)
                if ema is not None:
                    save(out / EMA_DIR, ema.model, step)
                (out / HISTORY_FILE).write_text(json.dumps(history))
            if cfg.eval_every and (step % cfg.eval_every == 0 or step == cfg.steps):
                candidate = out / (EMA_DIR if ema is not None else LATEST_DIR)
                save(candidate, inference, step, with_optimizer=ema is None)
                rate = _rollout_success(candidate, cfg.eval_episodes, dev)
                history["rollout"].append((step, rate))
                if rate >= best_success:
                    best_success, best_step = rate, step
                    save(out / BEST_DIR, inference, step)
                postfix["success"] = f"{rate:.0%} (best {best_success:.0%})"
                bar.set_postfix(postfix)
                (out / HISTORY_FILE).write_text(json.dumps(history))
                policy.train()
    bar.close()
    wall = time.perf_counter() - t0
    if not cfg.eval_every and step > start_step:
        save(out / BEST_DIR, inference, step)
        best_step = step
    png = plot_loss_curve(history, out / LOSS_PNG)
    train_losses = [l for _, l in history["train"]]
    return {
        "policy_type": pcfg.policy_type, "steps": step, "start_step": start_step, "device": str(dev),
        "initial_train_loss": train_losses[0] if train_losses else None,
        "final_train_loss": float(np.mean(train_losses[-10:])) if train_losses else None,
        "best_val_loss": best_val if math.isfinite(best_val) else None, "best_step": best_step,
        "best_rollout_success": best_success if best_success >= 0 else None, "ema": ema is not None,
        "latest_checkpoint": str(latest), "best_checkpoint": str(out / BEST_DIR), "loss_curve": str(png),
        "num_train_episodes": len(train_eps), "num_val_episodes": len(val_eps), "wall_s": wall,
        "train_samples_per_s": n_samples / wall if wall > 0 else None,
    }
