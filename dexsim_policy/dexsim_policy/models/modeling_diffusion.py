"""Diffusion policy (image + state) and its point-cloud variant.

Shapes: obs (B, To, *) -> global condition (B, To * F) -> DDIM sampling of (B, Tp, Da) in
normalized action space -> executed slice (B, Ta, Da) = prediction[:, To-1 : To-1+Ta].
Training: DDPM noising at a uniform random timestep, MSE between the U-Net output and the noise
(``prediction_type="epsilon"``) or the clean actions (``"sample"``).
"""
from __future__ import annotations

import torch
from torch import nn
import torch.nn.functional as F

from .backbones import ImageEncoder, PointNetEncoder
from .base import BasePolicy
from .configuration_diffusion import DiffusionConfig
from .configuration_pointcloud import PointCloudDiffusionConfig
from .schedulers import DiffusionScheduler
from .unet1d import ConditionalUnet1D


class DiffusionPolicy(BasePolicy):
    config_class = DiffusionConfig

    def __init__(self, config: DiffusionConfig) -> None:
        super().__init__(config)
        c = config
        self.obs_feature_dim = self._build_obs_encoder() + c.state_dim
        self.unet = ConditionalUnet1D(c.action_dim, c.n_obs_steps * self.obs_feature_dim, c.down_dims,
                                      c.step_embed_dim, c.kernel_size, c.n_groups)
        self.scheduler = DiffusionScheduler(c.num_train_timesteps, c.beta_schedule, c.prediction_type,
                                            c.clip_sample, c.clip_sample_range)

    def _build_obs_encoder(self) -> int:
        """Create the observation encoders; return the per-step feature width (without state)."""
        c = self.config
        self.image_encoders = nn.ModuleDict({
            k: ImageEncoder(c.backbone_widths, c.backbone_blocks, c.num_keypoints, c.image_feature_dim,
                            c.backbone_norm) for k in c.image_keys})
        return len(c.image_keys) * c.image_feature_dim

    def _encode_features(self, obs: dict[str, torch.Tensor], b: int, to: int) -> list[torch.Tensor]:
        return [self.image_encoders[k](obs[k].flatten(0, 1)).view(b, to, -1) for k in self.config.image_keys]

    def global_cond(self, obs: dict[str, torch.Tensor]) -> torch.Tensor:
        """Prepared obs (B, To, *) -> (B, To * obs_feature_dim)."""
        b, to = obs["state"].shape[:2]
        feats = self._encode_features(obs, b, to) + [obs["state"]]
        return torch.cat(feats, dim=-1).flatten(1)

    def forward(self, batch: dict[str, torch.Tensor],
                generator: torch.Generator | None = None) -> tuple[torch.Tensor, dict[str, float]]:
        """``generator`` (CPU) fixes noise and timesteps, e.g. for a repeatable validation loss."""
        obs = self.prepare_obs(batch, generator)
        cond = self.global_cond(obs)
        x0 = self.normalizer.normalize("action", batch["action"])
        b = x0.shape[0]
        noise = torch.randn(x0.shape, generator=generator, device="cpu").to(x0.device) if generator is not None \
            else torch.randn_like(x0)
        t = torch.randint(0, self.config.num_train_timesteps, (b,), generator=generator, device="cpu").to(x0.device)
        pred = self.unet(self.scheduler.add_noise(x0, noise, t), t, cond)
        err = F.mse_loss(pred, self.scheduler.target(x0, noise), reduction="none")
        if self.config.mask_loss_for_padding and "action_is_pad" in batch:
            valid = (~batch["action_is_pad"]).unsqueeze(-1).to(err.dtype)
            loss = (err * valid).sum() / (valid.sum() * err.shape[-1]).clamp_min(1.0)
        else:
            loss = err.mean()
        return loss, {"mse": float(loss.detach())}

    def _predict_normalized_chunk(self, obs: dict[str, torch.Tensor],
                                  generator: torch.Generator | None) -> torch.Tensor:
        c = self.config
        cond = self.global_cond(obs)
        shape = (cond.shape[0], c.horizon, c.action_dim)
        x = torch.randn(shape, generator=generator, device="cpu").to(cond.device) if generator is not None \
            else torch.randn(shape, device=cond.device)
        steps = self.scheduler.ddim_timesteps(c.num_inference_steps)
        for i, t in enumerate(steps):
            prev_t = steps[i + 1] if i + 1 < len(steps) else -1
            tt = torch.full((shape[0],), t, dtype=torch.long, device=cond.device)
            x = self.scheduler.ddim_step(self.unet(x, tt, cond), t, prev_t, x)
        start = c.n_obs_steps - 1
        return x[:, start : start + c.n_action_steps]


class PointCloudDiffusionPolicy(DiffusionPolicy):
    """Same diffusion head; the observation encoder is a PointNet over the masked object cloud
    (plus the cameras in ``image_keys``, empty by default)."""

    config_class = PointCloudDiffusionConfig

    def _build_obs_encoder(self) -> int:
        c = self.config
        width = super()._build_obs_encoder()
        self.point_encoder = PointNetEncoder(c.pointnet_hidden, c.point_feature_dim)
        return width + c.point_feature_dim

    def _encode_features(self, obs: dict[str, torch.Tensor], b: int, to: int) -> list[torch.Tensor]:
        feats = super()._encode_features(obs, b, to)
        return feats + [self.point_encoder(obs["points"].flatten(0, 1)).view(b, to, -1)]
