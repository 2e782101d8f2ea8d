"""Diffusion Policy (Chi et al., 2023) configuration: CNN image encoder + state, 1-D conv U-Net
with FiLM, DDPM training (squaredcos_cap_v2, 100 steps), DDIM sampling (10 steps).

Window: ``n_obs_steps`` (To) frames ending at t; ``horizon`` (Tp) actions starting at
``t - To + 1``; the executed actions are ``[To - 1, To - 1 + n_action_steps)`` of the prediction.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from ..data import WindowSpec
from .base import PolicyConfig, _require
from .schedulers import BETA_SCHEDULES, PREDICTION_TYPES

RESNET18_WIDTHS = (64, 128, 256, 512)
RESNET18_BLOCKS = (2, 2, 2, 2)


@dataclass
class DiffusionConfig(PolicyConfig):
    policy_type: ClassVar[str] = "diffusion"

    n_obs_steps: int = 2
    horizon: int = 16
    n_action_steps: int = 8
    action_norm: str = "min_max"  # diffusion samples live in [-1, 1]
    state_norm: str = "min_max"
    # image encoder (ResNet trunk + spatial softmax), one per camera
    backbone_widths: tuple[int, ...] = (8, 16, 32)
    backbone_blocks: tuple[int, ...] = (1, 1, 1)
    backbone_norm: str = "group"
    num_keypoints: int = 16
    image_feature_dim: int = 32
    # noise model
    down_dims: tuple[int, ...] = (32, 64, 128)
    kernel_size: int = 5
    n_groups: int = 8
    step_embed_dim: int = 32
    # diffusion
    num_train_timesteps: int = 100
    num_inference_steps: int = 10
    beta_schedule: str = "squaredcos_cap_v2"
    prediction_type: str = "epsilon"
    clip_sample: bool = True
    clip_sample_range: float = 1.0
    mask_loss_for_padding: bool = False

    def __post_init__(self) -> None:
        super().__post_init__()
        n = type(self).__name__
        self.backbone_widths = tuple(int(w) for w in self.backbone_widths)
        self.backbone_blocks = tuple(int(b) for b in self.backbone_blocks)
        self.down_dims = tuple(int(d) for d in self.down_dims)
        _require(len(self.backbone_widths) == len(self.backbone_blocks) >= 1 and min(self.backbone_widths) >= 1
                 and min(self.backbone_blocks) >= 1, n, "backbone_widths/blocks",
                 (self.backbone_widths, self.backbone_blocks), "equal-length positive tuples")
        _require(self.backbone_norm in ("group", "batch"), n, "backbone_norm", self.backbone_norm, "'group' or 'batch'")
        for f in ("num_keypoints", "image_feature_dim", "kernel_size", "n_groups"):
            _require(getattr(self, f) >= 1, n, f, getattr(self, f), ">= 1")
        _require(self.kernel_size % 2 == 1, n, "kernel_size", self.kernel_size, "odd")
        _require(len(self.down_dims) >= 1 and all(d % self.n_groups == 0 for d in self.down_dims), n, "down_dims",
                 self.down_dims, f"non-empty, each divisible by n_groups ({self.n_groups})")
        factor = 2 ** (len(self.down_dims) - 1)
        _require(self.horizon % factor == 0, n, "horizon", self.horizon,
                 f"a multiple of {factor} (2 ** (len(down_dims) - 1))")
        _require(self.n_obs_steps - 1 + self.n_action_steps <= self.horizon, n, "n_action_steps",
                 self.n_action_steps, f"<= horizon - n_obs_steps + 1 ({self.horizon - self.n_obs_steps + 1})")
        _require(self.step_embed_dim >= 4 and self.step_embed_dim % 2 == 0, n, "step_embed_dim",
                 self.step_embed_dim, "even and >= 4")
        _require(self.num_train_timesteps >= 2, n, "num_train_timesteps", self.num_train_timesteps, ">= 2")
        _require(1 <= self.num_inference_steps <= self.num_train_timesteps, n, "num_inference_steps",
                 self.num_inference_steps, f"1..num_train_timesteps ({self.num_train_timesteps})")
        _require(self.beta_schedule in BETA_SCHEDULES, n, "beta_schedule", self.beta_schedule,
                 f"one of {BETA_SCHEDULES}")
        _require(self.prediction_type in PREDICTION_TYPES, n, "prediction_type", self.prediction_type,
                 f"one of {PREDICTION_TYPES}")
        _require(self.clip_sample_range > 0, n, "clip_sample_range", self.clip_sample_range, "> 0")

    def window_spec(self) -> WindowSpec:
        return WindowSpec.from_horizons(self.n_obs_steps, -(self.n_obs_steps - 1), self.horizon)

    @classmethod
    def paper(cls, **overrides) -> "DiffusionConfig":
        """Chi et al.'s CNN configuration (ResNet-18 encoders, U-Net 256/512/1024, To=2, Tp=16, Ta=8)."""
        base = dict(image_size=(240, 320), backbone_widths=RESNET18_WIDTHS, backbone_blocks=RESNET18_BLOCKS,
                    num_keypoints=32, image_feature_dim=64, down_dims=(256, 512, 1024), step_embed_dim=128)
        base.update(overrides)
        return cls(**base)
