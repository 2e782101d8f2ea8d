"""Vision and point-cloud encoders written in plain PyTorch (no torchvision).

- :class:`ResNet`: ResNet-18-style (BasicBlock) with configurable stage widths and depths;
  ``widths=(64, 128, 256, 512), blocks=(2, 2, 2, 2)`` is ResNet-18. (B, 3, H, W) -> (B, C, H/32, W/32),
  or (B, C, H/16, W/16) with ``stem_pool=False`` (keeps the spatial detail small images need).
- :class:`SpatialSoftmax`: feature map -> K expected 2-D keypoints, (B, C, h, w) -> (B, 2K).
- :class:`PointNetEncoder`: shared per-point MLP + max pool, (B, N, 3) -> (B, out_dim).
- :func:`sinusoidal_2d`: DETR-style 2-D sine position embedding, -> (h*w, dim).
"""
from __future__ import annotations

import math

import torch
from torch import nn
import torch.nn.functional as F

GN_MAX_GROUPS = 8
STEM_KERNEL = 7
POS_TEMPERATURE = 10000.0


def _norm(kind: str, channels: int) -> nn.Module:
    if kind == "batch":
        return nn.BatchNorm2d(channels)
    return nn.GroupNorm(math.gcd(GN_MAX_GROUPS, channels), channels)


class BasicBlock(nn.Module):
    def __init__(self, cin: int, cout: int, stride: int, norm: str) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = _norm(norm, cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = _norm(norm, cout)
        self.down = None
        if stride != 1 or cin != cout:
            self.down = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), _norm(norm, cout))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return F.relu(out + (x if self.down is None else self.down(x)))


class ResNet(nn.Module):
    """ResNet-style trunk without the classifier; ``out_channels`` = ``widths[-1]``."""

    def __init__(self, widths: tuple[int, ...], blocks: tuple[int, ...], norm: str = "group",
                 stem_pool: bool = True) -> None:
        super().__init__()
        pool = [nn.MaxPool2d(3, 2, 1)] if stem_pool else []     # without it: stride 16, finer feature maps
        self.stem = nn.Sequential(
            nn.Conv2d(3, widths[0], STEM_KERNEL, 2, STEM_KERNEL // 2, bias=False),
            _norm(norm, widths[0]), nn.ReLU(inplace=True), *pool)
        layers, cin = [], widths[0]
        for i, (w, n) in enumerate(zip(widths, blocks)):
            for j in range(n):
                layers.append(BasicBlock(cin, w, 2 if (i > 0 and j == 0) else 1, norm))
                cin = w
        self.layers = nn.Sequential(*layers)
        self.out_channels = widths[-1]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layers(self.stem(x))


class SpatialSoftmax(nn.Module):
    """Keypoints as the softmax-weighted mean pixel position of K learned 1x1-conv maps."""

    def __init__(self, in_channels: int, num_keypoints: int) -> None:
        super().__init__()
        self.proj = nn.Conv2d(in_channels, num_keypoints, 1)
        self.out_dim = 2 * num_keypoints

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, _, h, w = x.shape
        logits = self.proj(x).flatten(2)  # (B, K, h*w)
        ys, xs = torch.meshgrid(torch.linspace(-1, 1, h, device=x.device),
                                torch.linspace(-1, 1, w, device=x.device), indexing="ij")
        grid = torch.stack([xs.reshape(-1), ys.reshape(-1)], dim=1)  # (h*w, 2)
        return (logits.softmax(-1) @ grid).reshape(b, -1)


class ImageEncoder(nn.Module):
    """ResNet trunk + spatial-softmax keypoints + linear: (B, 3, H, W) -> (B, out_dim)."""

    def __init__(self, widths: tuple[int, ...], blocks: tuple[int, ...], num_keypoints: int, out_dim: int,
                 norm: str = "group") -> None:
        super().__init__()
        self.trunk = ResNet(widths, blocks, norm)
        self.pool = SpatialSoftmax(self.trunk.out_channels, num_keypoints)
        self.out = nn.Sequential(nn.Linear(self.pool.out_dim, out_dim), nn.ReLU())
        self.out_dim = out_dim

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.out(self.pool(self.trunk(x)))


class PointNetEncoder(nn.Module):
    """PointNet (no T-nets): per-point MLP with LayerNorm, symmetric max pool, projection."""

    def __init__(self, hidden: tuple[int, ...], out_dim: int) -> None:
        super().__init__()
        layers, cin = [], 3
        for h in hidden:
            layers += [nn.Linear(cin, h), nn.LayerNorm(h), nn.ReLU()]
            cin = h
        self.mlp = nn.Sequential(*layers)
        self.out = nn.Sequential(nn.Linear(cin, out_dim), nn.LayerNorm(out_dim))
        self.out_dim = out_dim

    def forward(self, pts: torch.Tensor) -> torch.Tensor:
        return self.out(self.mlp(pts).max(dim=-2).values)


def sinusoidal_1d(n: int, dim: int, device: torch.device | None = None) -> torch.Tensor:
    """(n, dim) sine/cosine embedding of positions 0..n-1."""
    pos = torch.arange(n, dtype=torch.float32, device=device)[:, None]
    freq = torch.exp(torch.arange(0, dim, 2, dtype=torch.float32, device=device) * (-math.log(POS_TEMPERATURE) / dim))
    emb = torch.zeros(n, dim, device=device)
    emb[:, 0::2] = torch.sin(pos * freq)
    emb[:, 1::2] = torch.cos(pos * freq[: dim // 2])
    return emb


def sinusoidal_2d(h: int, w: int, dim: int, device: torch.device | None = None) -> torch.Tensor:
    """(h*w, dim): first half encodes the row, second half the column."""
    half = dim // 2
    rows = sinusoidal_1d(h, half, device)[:, None, :].expand(h, w, half)
    cols = sinusoidal_1d(w, dim - half, device)[None, :, :].expand(h, w, dim - half)
    return torch.cat([rows, cols], dim=-1).reshape(h * w, dim)
