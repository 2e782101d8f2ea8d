"""1-D temporal U-Net noise model with FiLM conditioning (after Chi et al., 2023).

(B, Tp, Da) noisy actions + (B,) timesteps + (B, cond_dim) global condition -> (B, Tp, Da).
Each residual block modulates its first conv's output with per-channel scale and bias
predicted from [timestep embedding | global condition] (FiLM).
"""
from __future__ import annotations

import math

import torch
from torch import nn

from .backbones import POS_TEMPERATURE


class SinusoidalTimeEmbedding(nn.Module):
    def __init__(self, dim: int) -> None:
        super().__init__()
        self.dim = dim

    def forward(self, t: torch.Tensor) -> torch.Tensor:
        half = self.dim // 2
        freq = torch.exp(torch.arange(half, device=t.device) * (-math.log(POS_TEMPERATURE) / (half - 1)))
        arg = t.float()[:, None] * freq[None]
        return torch.cat([arg.sin(), arg.cos()], dim=-1)


class Conv1dBlock(nn.Module):
    def __init__(self, cin: int, cout: int, kernel: int, n_groups: int) -> None:
        super().__init__()
        self.block = nn.Sequential(nn.Conv1d(cin, cout, kernel, padding=kernel // 2),
                                   nn.GroupNorm(n_groups, cout), nn.Mish())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.block(x)


class FiLMResidualBlock(nn.Module):
    def __init__(self, cin: int, cout: int, cond_dim: int, kernel: int, n_groups: int) -> None:
        super().__init__()
        self.conv1 = Conv1dBlock(cin, cout, kernel, n_groups)
        self.conv2 = Conv1dBlock(cout, cout, kernel, n_groups)
        self.film = nn.Sequential(nn.Mish(), nn.Linear(cond_dim, 2 * cout))
        self.residual = nn.Conv1d(cin, cout, 1) if cin != cout else nn.Identity()

    def forward(self, x: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        out = self.conv1(x)
        scale, bias = self.film(cond).unsqueeze(-1).chunk(2, dim=1)
        out = self.conv2(scale * out + bias)
        return out + self.residual(x)


class ConditionalUnet1D(nn.Module):
    def __init__(self, action_dim: int, global_cond_dim: int, down_dims: tuple[int, ...],
                 step_embed_dim: int, kernel_size: int, n_groups: int) -> None:
        super().__init__()
        self.time_embed = nn.Sequential(SinusoidalTimeEmbedding(step_embed_dim),
                                        nn.Linear(step_embed_dim, 4 * step_embed_dim), nn.Mish(),
                                        nn.Linear(4 * step_embed_dim, step_embed_dim))
        cond_dim = step_embed_dim + global_cond_dim
        dims = (action_dim, *down_dims)
        pairs = list(zip(dims[:-1], dims[1:]))
        blk = lambda i, o: FiLMResidualBlock(i, o, cond_dim, kernel_size, n_groups)  # noqa: E731
        self.down = nn.ModuleList()
        for k, (i, o) in enumerate(pairs):
            last = k == len(pairs) - 1
            self.down.append(nn.ModuleList([blk(i, o), blk(o, o),
                                            nn.Conv1d(o, o, 3, 2, 1) if not last else nn.Identity()]))
        self.mid = nn.ModuleList([blk(down_dims[-1], down_dims[-1]), blk(down_dims[-1], down_dims[-1])])
        self.up = nn.ModuleList()
        for i, o in reversed(pairs[1:]):  # each level undoes one downsampling
            self.up.append(nn.ModuleList([blk(2 * o, i), blk(i, i), nn.ConvTranspose1d(i, i, 4, 2, 1)]))
        self.final = nn.Sequential(Conv1dBlock(down_dims[0], down_dims[0], kernel_size, n_groups),
                                   nn.Conv1d(down_dims[0], action_dim, 1))

    def forward(self, x: torch.Tensor, t: torch.Tensor, global_cond: torch.Tensor) -> torch.Tensor:
        cond = torch.cat([self.time_embed(t), global_cond], dim=-1)
        h = x.transpose(1, 2)  # (B, Da, Tp)
        skips = []
        for res1, res2, down in self.down:
            h = res2(res1(h, cond), cond)
            skips.append(h)
            h = down(h)
        for res in self.mid:
            h = res(h, cond)
        for res1, res2, up in self.up:
            h = torch.cat([h, skips.pop()], dim=1)
            h = up(res2(res1(h, cond), cond))
        return self.final(h).transpose(1, 2)
