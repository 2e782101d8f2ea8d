"""Feature normalization owned by a policy (stats are buffers, so they travel in its checkpoint),
ImageNet image normalization and a torch colour-jitter augmentation (training only).

Modes: ``"min_max"`` maps ``[min, max]`` to ``[-1, 1]``; ``"mean_std"`` maps to zero mean, unit
std. The scale is floored at ``MIN_SCALE`` (in the feature's own units: rad, m, closure): a feature
that barely varies in the demonstrations (a wrist roll the skill never uses) must not turn the
smallest deviation at run time into a huge normalized input.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

import numpy as np
import torch
from torch import nn
import torch.nn.functional as F

from .errors import PolicyConfigError

MIN_SCALE = 1e-2
NORM_MODES = ("min_max", "mean_std")
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def stats_from_array(x: np.ndarray) -> dict[str, np.ndarray]:
    """Per-feature ``min/max/mean/std`` over the leading axis of a (N, D) array."""
    x = np.asarray(x, dtype=np.float64).reshape(len(x), -1)
    if x.shape[0] == 0 or not np.all(np.isfinite(x)):
        raise PolicyConfigError("stats_from_array: empty or non-finite data")
    return {"min": x.min(0), "max": x.max(0), "mean": x.mean(0), "std": x.std(0)}


class Normalizer(nn.Module):
    """Normalizes named features; ``features`` maps name -> (dim, mode).

    Buffers ``<name>_min/_max/_mean/_std`` start as +inf and must be filled by :meth:`set_stats`
    (or by loading a checkpoint) before use.
    """

    def __init__(self, features: Mapping[str, tuple[int, str]]) -> None:
        super().__init__()
        self.features = dict(features)
        for name, (dim, mode) in self.features.items():
            if mode not in NORM_MODES:
                raise PolicyConfigError(f"normalization mode for {name!r}: {mode!r}, expected one of {NORM_MODES}")
            for stat in ("min", "max", "mean", "std"):
                self.register_buffer(f"{name}_{stat}", torch.full((dim,), float("inf")))

    def set_stats(self, stats: Mapping[str, Mapping[str, np.ndarray]]) -> None:
        for name, (dim, _) in self.features.items():
            if name not in stats:
                raise PolicyConfigError(f"normalizer stats: missing feature {name!r}")
            for stat in ("min", "max", "mean", "std"):
                value = torch.as_tensor(np.asarray(stats[name][stat], dtype=np.float32).reshape(-1))
                if value.shape != (dim,):
                    raise PolicyConfigError(
                        f"normalizer stats {name}.{stat}: shape {tuple(value.shape)}, expected ({dim},)")
                getattr(self, f"{name}_{stat}").copy_(value)

    def is_fitted(self) -> bool:
        return all(bool(torch.isfinite(b).all()) for b in self.buffers())

    def _scale_shift(self, name: str) -> tuple[torch.Tensor, torch.Tensor]:
        """(scale, centre) such that normalized = (x - centre) / scale."""
        _, mode = self.features[name]
        if mode == "min_max":
            lo, hi = getattr(self, f"{name}_min"), getattr(self, f"{name}_max")
            centre, scale = (hi + lo) / 2, (hi - lo) / 2
        else:
            centre, scale = getattr(self, f"{name}_mean"), getattr(self, f"{name}_std")
        if not bool(torch.isfinite(scale).all()):
            raise PolicyConfigError(f"normalizer for {name!r} has no stats (call set_stats or load a checkpoint)")
        return scale.clamp_min(MIN_SCALE), centre

    def normalize(self, name: str, x: torch.Tensor) -> torch.Tensor:
        scale, centre = self._scale_shift(name)
        return (x - centre) / scale

    def unnormalize(self, name: str, x: torch.Tensor) -> torch.Tensor:
        scale, centre = self._scale_shift(name)
        return x * scale + centre


def imagenet_normalize(img: torch.Tensor) -> torch.Tensor:
    """(..., 3, H, W) in [0, 1] -> ImageNet-standardized."""
    mean = img.new_tensor(IMAGENET_MEAN).view(3, 1, 1)
    std = img.new_tensor(IMAGENET_STD).view(3, 1, 1)
    return (img - mean) / std


def resize_images(img: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """Bilinear (antialiased) resize of (..., 3, H, W) to ``size`` = (H, W); no-op if equal. Float
    or uint8 (uint8 is rounded; on CPU its channels-last kernel is much faster than on floats)."""
    if tuple(img.shape[-2:]) == tuple(size):
        return img
    lead = img.shape[:-3]
    flat = img.reshape(-1, *img.shape[-3:])
    out = F.interpolate(flat, size=tuple(size), mode="bilinear", align_corners=False, antialias=True)
    return out.reshape(*lead, *out.shape[-3:])


def random_shift(img: torch.Tensor, pad: int, generator: torch.Generator | None = None) -> torch.Tensor:
    """DrQ-style augmentation (Kostrikov et al. 2020): pad (..., 3, H, W) by ``pad`` px with edge
    replication and crop an H x W window at a random offset, one offset per batch element (shared by
    its time steps, so motion between frames is kept)."""
    b, h, w = img.shape[0], img.shape[-2], img.shape[-1]
    flat = img.reshape(b, -1, h, w)
    padded = F.pad(flat, (pad, pad, pad, pad), mode="replicate")
    offsets = torch.randint(0, 2 * pad + 1, (b, 2), generator=generator, device="cpu").tolist()
    out = torch.stack([padded[i, :, dy:dy + h, dx:dx + w] for i, (dy, dx) in enumerate(offsets)])
    return out.reshape(img.shape)


@dataclass
class ColorJitterConfig:
    """Maximum jitter strengths (as in torchvision's ColorJitter); 0 disables a component."""

    brightness: float = 0.3
    contrast: float = 0.3
    saturation: float = 0.3
    hue: float = 0.05

    def __post_init__(self) -> None:
        for name in ("brightness", "contrast", "saturation"):
            v = getattr(self, name)
            if not 0.0 <= v < 1.0:
                raise PolicyConfigError(f"ColorJitterConfig.{name}={v}: expected 0 <= value < 1")
        if not 0.0 <= self.hue <= 0.5:
            raise PolicyConfigError(f"ColorJitterConfig.hue={self.hue}: expected 0 <= hue <= 0.5")


def _grey(img: torch.Tensor) -> torch.Tensor:
    r, g, b = img.unbind(-3)
    return (0.299 * r + 0.587 * g + 0.114 * b).unsqueeze(-3)


def _shift_hue(img: torch.Tensor, shift: torch.Tensor) -> torch.Tensor:
    """Rotate hue by ``shift`` (fraction of a turn) via RGB->HSV->RGB."""
    r, g, b = img.unbind(-3)
    maxc, _ = img.max(-3)
    minc, _ = img.min(-3)
    delta = maxc - minc
    safe = torch.where(delta > 0, delta, torch.ones_like(delta))
    h = torch.where(maxc == r, ((g - b) / safe) % 6,
                    torch.where(maxc == g, (b - r) / safe + 2, (r - g) / safe + 4)) / 6
    h = torch.where(delta > 0, h, torch.zeros_like(h))
    s = torch.where(maxc > 0, delta / torch.where(maxc > 0, maxc, torch.ones_like(maxc)), torch.zeros_like(maxc))
    v = maxc
    h = (h + shift) % 1.0
    k = lambda n: (n + h * 6) % 6  # noqa: E731  (standard HSV->RGB formula)
    f = lambda n: v - v * s * torch.clamp(torch.minimum(k(n), 4 - k(n)), 0, 1)  # noqa: E731
    return torch.stack([f(5), f(3), f(1)], dim=-3)


def color_jitter(img: torch.Tensor, cfg: ColorJitterConfig, generator: torch.Generator | None = None) -> torch.Tensor:
    """Random brightness/contrast/saturation/hue per image of (B, ..., 3, H, W) in [0, 1].

    One factor set per batch element (shared across its time steps and cameras' frames).
    """
    b = img.shape[0]
    view = (b,) + (1,) * (img.dim() - 1)

    def factor(strength: float) -> torch.Tensor:
        u = torch.rand(b, generator=generator, device="cpu").to(img.device)
        return (1.0 + strength * (2 * u - 1)).view(view)

    out = img
    if cfg.brightness > 0:
        out = out * factor(cfg.brightness)
    if cfg.contrast > 0:
        mean = _grey(out).mean(dim=(-3, -2, -1), keepdim=True)
        out = (out - mean) * factor(cfg.contrast) + mean
    if cfg.saturation > 0:
        g = _grey(out)
        out = (out - g) * factor(cfg.saturation) + g
    out = out.clamp(0.0, 1.0)
    if cfg.hue > 0:
        u = torch.rand(b, generator=generator, device="cpu").to(img.device)
        out = _shift_hue(out, (cfg.hue * (2 * u - 1)).view(view[:-3] + (1, 1)))
    return out.clamp(0.0, 1.0)
