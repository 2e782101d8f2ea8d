"""DDPM noise schedule (training) and deterministic DDIM sampling (inference), written here.

``squaredcos_cap_v2`` is the cosine schedule of Nichol & Dhariwal (2021):
``alpha_bar(t) = cos^2(((t / T) + s) / (1 + s) * pi / 2)``, ``beta_t = min(1 - alpha_bar(t+1)/alpha_bar(t), 0.999)``.
"""
from __future__ import annotations

import math

import torch

from ..errors import PolicyConfigError

COSINE_OFFSET_S = 0.008
MAX_BETA = 0.999
BETA_SCHEDULES = ("squaredcos_cap_v2", "linear")
LINEAR_BETA_START = 1e-4
LINEAR_BETA_END = 2e-2
PREDICTION_TYPES = ("epsilon", "sample")


def make_betas(num_train_timesteps: int, schedule: str) -> torch.Tensor:
    if schedule == "squaredcos_cap_v2":
        def alpha_bar(t: float) -> float:
            return math.cos((t + COSINE_OFFSET_S) / (1 + COSINE_OFFSET_S) * math.pi / 2) ** 2
        n = num_train_timesteps
        return torch.tensor([min(1 - alpha_bar((i + 1) / n) / alpha_bar(i / n), MAX_BETA) for i in range(n)],
                            dtype=torch.float64)
    if schedule == "linear":
        return torch.linspace(LINEAR_BETA_START, LINEAR_BETA_END, num_train_timesteps, dtype=torch.float64)
    raise PolicyConfigError(f"beta_schedule={schedule!r}: expected one of {BETA_SCHEDULES}")


class DiffusionScheduler:
    """Forward noising ``q(x_t | x_0)`` and DDIM (eta = 0) reverse steps on one schedule."""

    def __init__(self, num_train_timesteps: int = 100, beta_schedule: str = "squaredcos_cap_v2",
                 prediction_type: str = "epsilon", clip_sample: bool = True, clip_sample_range: float = 1.0) -> None:
        if prediction_type not in PREDICTION_TYPES:
            raise PolicyConfigError(f"prediction_type={prediction_type!r}: expected one of {PREDICTION_TYPES}")
        self.num_train_timesteps = num_train_timesteps
        self.prediction_type = prediction_type
        self.clip_sample = clip_sample
        self.clip_sample_range = clip_sample_range
        betas = make_betas(num_train_timesteps, beta_schedule)
        self.alphas_cumprod = torch.cumprod(1.0 - betas, dim=0)  # float64 (T,)

    def _ab(self, t: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
        ab = self.alphas_cumprod.to(like.device)[t].to(like.dtype)
        return ab.view(-1, *([1] * (like.dim() - 1)))

    def add_noise(self, x0: torch.Tensor, noise: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        """x_t = sqrt(ab_t) x0 + sqrt(1 - ab_t) noise; ``t`` (B,) int64."""
        ab = self._ab(t, x0)
        return ab.sqrt() * x0 + (1 - ab).sqrt() * noise

    def target(self, x0: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
        """What the network is trained to predict."""
        return noise if self.prediction_type == "epsilon" else x0

    def ddim_timesteps(self, num_inference_steps: int) -> list[int]:
        """Descending, evenly spaced ("leading") timesteps, e.g. 100/10 -> [90, 80, ..., 0]."""
        if not 1 <= num_inference_steps <= self.num_train_timesteps:
            raise PolicyConfigError(
                f"num_inference_steps={num_inference_steps}: expected 1..{self.num_train_timesteps}")
        ratio = self.num_train_timesteps // num_inference_steps
        return [i * ratio for i in reversed(range(num_inference_steps))]

    def ddim_step(self, model_out: torch.Tensor, t: int, prev_t: int, x_t: torch.Tensor) -> torch.Tensor:
        """Deterministic DDIM update x_t -> x_prev (prev_t < 0 means the clean sample)."""
        ab_t = float(self.alphas_cumprod[t])
        ab_prev = float(self.alphas_cumprod[prev_t]) if prev_t >= 0 else 1.0
        if self.prediction_type == "epsilon":
            eps = model_out
            x0 = (x_t - math.sqrt(1 - ab_t) * eps) / math.sqrt(ab_t)
        else:
            x0 = model_out
            eps = (x_t - math.sqrt(ab_t) * x0) / math.sqrt(1 - ab_t)
        if self.clip_sample:
            x0 = x0.clamp(-self.clip_sample_range, self.clip_sample_range)
        return math.sqrt(ab_prev) * x0 + math.sqrt(1 - ab_prev) * eps
