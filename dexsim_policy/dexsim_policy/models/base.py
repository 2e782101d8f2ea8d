"""Shared policy contract, base config and the observation queue used by ``select_action``.

Tensor conventions (B batch, To observation steps, Tp prediction horizon, Ta executed actions,
Da action dim, Ds state dim, N points):
  obs batch:   ``left_rgb``/``right_rgb`` (B, To, 3, H, W) float in [0, 1]; ``state`` (B, To, Ds);
               ``points`` (B, To, N, 3) (robot base frame, m)
  train batch: obs batch + ``action`` (B, Tp, Da) (raw units) + ``action_is_pad`` (B, Tp) bool
  ``predict_action_chunk(obs) -> (B, Ta, Da)`` un-normalized actions
  ``select_action(obs_t) -> (B, Da)`` where obs_t holds one step: images (B, 3, H, W),
               ``state`` (B, Ds), ``points`` (B, N, 3); the policy keeps its own history.
  ``forward(batch) -> (loss, logs)``.

Actions: the policy predicts ``action_indices`` of the dataset's 21-d action; the default
``(0, 1, 2, 3, 4, 5, 13)`` is the 6 joint targets (rad) and the gripper command (1 closed, 0 open).
"""
from __future__ import annotations

import dataclasses
import typing
from collections import deque
from dataclasses import dataclass, field
from typing import Any, ClassVar

import torch
from torch import nn

from ..data import ACTION_DIM_FULL, DEFAULT_ACTION_INDICES, MAX_ARMS, DEFAULT_STATE_KEYS, IMAGE_KEYS, WindowSpec
from ..errors import PolicyConfigError
from ..normalizer import (NORM_MODES, ColorJitterConfig, Normalizer, color_jitter, imagenet_normalize, random_shift,
                          resize_images)


def _require(cond: bool, cls_name: str, field_name: str, value: Any, expected: str) -> None:
    if not cond:
        raise PolicyConfigError(f"{cls_name}.{field_name}={value!r}: expected {expected}")


@dataclass
class PolicyConfig:
    """Fields every policy shares. Subclasses set ``policy_type`` and add their own."""

    policy_type: ClassVar[str] = ""

    n_obs_steps: int = 1
    horizon: int = 10  # Tp: predicted actions per inference
    n_action_steps: int = 10  # Ta: actions executed from each prediction
    action_indices: tuple[int, ...] = DEFAULT_ACTION_INDICES
    state_keys: tuple[str, ...] = DEFAULT_STATE_KEYS
    state_dim: int = 7  # sum of the state_keys widths (6 joints + gripper)
    image_keys: tuple[str, ...] = IMAGE_KEYS
    image_size: tuple[int, int] = (48, 64)  # (H, W) the encoder sees; inputs are resized to it
    use_points: bool = False
    num_points: int = 1024
    state_norm: str = "mean_std"
    action_norm: str = "mean_std"
    color_jitter: ColorJitterConfig | None = field(default_factory=ColorJitterConfig)
    random_shift_px: int = 4  # training-only augmentation: pad by this (replicate) and crop back at random

    def __post_init__(self) -> None:
        name = type(self).__name__
        self.action_indices = tuple(int(i) for i in self.action_indices)
        self.state_keys = tuple(self.state_keys)
        self.image_keys = tuple(self.image_keys)
        self.image_size = tuple(int(s) for s in self.image_size)
        if isinstance(self.color_jitter, dict):
            self.color_jitter = ColorJitterConfig(**self.color_jitter)
        _require(self.n_obs_steps >= 1, name, "n_obs_steps", self.n_obs_steps, ">= 1")
        _require(self.horizon >= 1, name, "horizon", self.horizon, ">= 1")
        _require(1 <= self.n_action_steps <= self.horizon, name, "n_action_steps", self.n_action_steps,
                 f"1 <= n_action_steps <= horizon ({self.horizon})")
        _require(len(self.action_indices) > 0 and all(0 <= i < ACTION_DIM_FULL * MAX_ARMS for i in self.action_indices)
                 and len(set(self.action_indices)) == len(self.action_indices), name, "action_indices",
                 self.action_indices, f"distinct indices in [0, {ACTION_DIM_FULL * MAX_ARMS})")
        _require(len(self.state_keys) > 0, name, "state_keys", self.state_keys, "at least one obs key")
        _require(self.state_dim >= 1, name, "state_dim", self.state_dim, ">= 1")
        _require(all(k in IMAGE_KEYS for k in self.image_keys) and len(set(self.image_keys)) == len(self.image_keys),
                 name, "image_keys", self.image_keys, f"distinct keys from {IMAGE_KEYS}")
        _require(len(self.image_size) == 2 and min(self.image_size) >= 16, name, "image_size", self.image_size,
                 "(H, W) with both >= 16 px")
        _require(self.num_points >= 1, name, "num_points", self.num_points, ">= 1")
        _require(isinstance(self.random_shift_px, int) and 0 <= self.random_shift_px < min(self.image_size) // 2,
                 name, "random_shift_px", self.random_shift_px, "an integer, 0 <= shift < half the image size")
        _require(len(self.image_keys) > 0 or self.use_points, name, "image_keys", self.image_keys,
                 "at least one camera unless use_points is set")
        for f in ("state_norm", "action_norm"):
            _require(getattr(self, f) in NORM_MODES, name, f, getattr(self, f), f"one of {NORM_MODES}")
        _require(self.color_jitter is None or isinstance(self.color_jitter, ColorJitterConfig), name,
                 "color_jitter", self.color_jitter, "a ColorJitterConfig or None")

    @property
    def action_dim(self) -> int:
        return len(self.action_indices)

    def window_spec(self) -> WindowSpec:
        """Frames a training sample holds (see :mod:`dexsim_policy.data`)."""
        return WindowSpec.from_horizons(self.n_obs_steps, 0, self.horizon)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "PolicyConfig":
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(d) - names)
        if unknown:
            raise PolicyConfigError(f"{cls.__name__}: unknown field(s) {unknown}")
        hints = typing.get_type_hints(cls)
        kwargs = {}
        for k, v in d.items():
            if isinstance(v, list) and "tuple" in str(hints.get(k, "")):
                v = tuple(tuple(x) if isinstance(x, list) else x for x in v)
            kwargs[k] = v
        return cls(**kwargs)


class BasePolicy(nn.Module):
    """Owns its normalizer; subclasses implement ``forward`` and ``_predict_normalized_chunk``."""

    config_class: ClassVar[type[PolicyConfig]] = PolicyConfig

    def __init__(self, config: PolicyConfig) -> None:
        super().__init__()
        if not isinstance(config, self.config_class):
            raise PolicyConfigError(f"{type(self).__name__} needs a {self.config_class.__name__}, got {type(config).__name__}")
        self.config = config
        features = {"state": (config.state_dim, config.state_norm), "action": (config.action_dim, config.action_norm)}
        if config.use_points:
            features["points"] = (3, "mean_std")
        self.normalizer = Normalizer(features)
        self._obs_queue: deque[dict[str, torch.Tensor]] = deque(maxlen=config.n_obs_steps)
        self._action_queue: deque[torch.Tensor] = deque()

    @property
    def device(self) -> torch.device:
        return next(self.parameters()).device

    # ---- input preparation -------------------------------------------------------------------
    def prepare_obs(self, batch: dict[str, torch.Tensor], jitter_generator: torch.Generator | None = None
                    ) -> dict[str, torch.Tensor]:
        """Normalize an obs batch: resize + (train-only) colour jitter + ImageNet on images,
        feature stats on state and points. Shapes are kept."""
        cfg = self.config
        out = {"state": self.normalizer.normalize("state", batch["state"])}
        for key in cfg.image_keys:
            img = resize_images(batch[key], cfg.image_size)
            if self.training and cfg.random_shift_px > 0:
                img = random_shift(img, cfg.random_shift_px, jitter_generator)
            if self.training and cfg.color_jitter is not None:
                img = color_jitter(img, cfg.color_jitter, jitter_generator)
            out[key] = imagenet_normalize(img)
        if cfg.use_points:
            out["points"] = self.normalizer.normalize("points", self._subsample_points(batch["points"], jitter_generator))
        return out

    def _subsample_points(self, pts: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
        """(..., N, 3) -> (..., num_points, 3): a random subset while training (augmentation),
        evenly strided indices at inference (deterministic). Fewer points are kept as they are."""
        n, k = pts.shape[-2], self.config.num_points
        if n <= k:
            return pts
        if self.training:
            idx = torch.randperm(n, generator=generator, device="cpu")[:k].sort().values
        else:
            idx = torch.linspace(0, n - 1, k).round().long()
        return pts.index_select(-2, idx.to(pts.device))

    # ---- contract ----------------------------------------------------------------------------
    def reset(self) -> None:
        """Clear observation history and queued actions (call at every episode start)."""
        self._obs_queue.clear()
        self._action_queue.clear()

    def forward(self, batch: dict[str, torch.Tensor],
                generator: torch.Generator | None = None) -> tuple[torch.Tensor, dict[str, float]]:
        """Training loss on a raw batch (see module doc) and scalar logs."""
        raise NotImplementedError

    def _predict_normalized_chunk(self, obs: dict[str, torch.Tensor],
                                  generator: torch.Generator | None) -> torch.Tensor:
        """(B, To, *) prepared obs -> (B, Ta, Da) normalized actions."""
        raise NotImplementedError

    @torch.no_grad()
    def predict_action_chunk(self, obs: dict[str, torch.Tensor],
                             generator: torch.Generator | None = None) -> torch.Tensor:
        """(B, To, *) raw obs -> (B, Ta, Da) un-normalized actions."""
        chunk = self._predict_normalized_chunk(self.prepare_obs(obs), generator)
        return self.normalizer.unnormalize("action", chunk)

    def observe(self, obs_t: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """Append one step; return the (B, To, *) history (the first step repeated at start)."""
        keys = ["state", *self.config.image_keys] + (["points"] if self.config.use_points else [])
        missing = [k for k in keys if k not in obs_t]
        if missing:
            raise KeyError(f"select_action: observation lacks {missing}")
        step = {k: obs_t[k] for k in keys}
        if not self._obs_queue:
            self._obs_queue.extend([step] * self.config.n_obs_steps)
        else:
            self._obs_queue.append(step)
        return {k: torch.stack([s[k] for s in self._obs_queue], dim=1) for k in keys}

    @torch.no_grad()
    def select_action(self, obs_t: dict[str, torch.Tensor],
                      generator: torch.Generator | None = None) -> torch.Tensor:
        """One control step: (B, *) obs -> (B, Da) action, re-planning when the queue is empty."""
        history = self.observe(obs_t)
        if not self._action_queue:
            chunk = self.predict_action_chunk(history, generator)
            self._action_queue.extend(chunk[:, : self.config.n_action_steps].unbind(1))
        return self._action_queue.popleft()
