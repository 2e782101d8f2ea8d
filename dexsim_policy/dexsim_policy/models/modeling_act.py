"""ACT policy: per-camera ResNet backbones, transformer encoder-decoder, CVAE latent, action
chunking and temporal ensembling.

Shapes: obs (B, 1, *) -> chunk (B, Tp, Da) (ACT returns the whole chunk: Ta = Tp). Training: the CVAE encoder reads
[CLS, state, action_1..Tp] and yields z ~ N(mu, sigma); loss = L1 (or MSE) over non-padded
actions + kl_weight * KL(q(z|a, s) || N(0, I)). Inference uses z = 0 (the prior mean).
"""
from __future__ import annotations

from collections import deque

import torch
from torch import nn
import torch.nn.functional as F

from .backbones import ResNet, sinusoidal_1d, sinusoidal_2d
from .base import BasePolicy
from .configuration_act import ACTConfig

N_EXTRA_TOKENS = 2  # latent + state tokens in front of the image tokens


class TemporalEnsembler:
    """ACT temporal ensembling: at each step, average every stored chunk's prediction for the
    current time with weights ``exp(-m * i)``, ``i = 0`` the oldest prediction."""

    def __init__(self, coeff: float, chunk_size: int) -> None:
        self.coeff = coeff
        self.chunk_size = chunk_size
        self._chunks: deque[list] = deque()  # [age_steps, chunk (B, Tp, Da)], oldest first

    def reset(self) -> None:
        self._chunks.clear()

    def update(self, chunk: torch.Tensor) -> torch.Tensor:
        """Add the chunk predicted now; return the ensembled action for now, (B, Da)."""
        self._chunks.append([0, chunk])
        preds = torch.stack([c[:, age] for age, c in self._chunks], dim=0)  # (n, B, Da)
        w = torch.exp(-self.coeff * torch.arange(len(preds), dtype=preds.dtype, device=preds.device))
        action = (preds * (w / w.sum()).view(-1, 1, 1)).sum(0)
        for entry in self._chunks:
            entry[0] += 1
        while self._chunks and self._chunks[0][0] >= self.chunk_size:
            self._chunks.popleft()
        return action


class ACTPolicy(BasePolicy):
    config_class = ACTConfig

    def __init__(self, config: ACTConfig) -> None:
        super().__init__(config)
        c = config
        d = c.dim_model

        def encoder(layers: int) -> nn.TransformerEncoder:
            layer = nn.TransformerEncoderLayer(d, c.n_heads, c.dim_feedforward, c.dropout, c.activation,
                                               batch_first=True, norm_first=True)
            return nn.TransformerEncoder(layer, layers, enable_nested_tensor=False)

        self.backbones = nn.ModuleDict({k: ResNet(c.backbone_widths, c.backbone_blocks, c.backbone_norm,
                                                  c.backbone_stem_pool) for k in c.image_keys})
        self.input_proj = nn.Conv2d(c.backbone_widths[-1], d, 1)
        self.camera_embed = nn.Embedding(len(c.image_keys), d)
        self.state_proj = nn.Linear(c.state_dim, d)
        self.latent_proj = nn.Linear(c.latent_dim, d)
        self.extra_pos = nn.Embedding(N_EXTRA_TOKENS, d)
        self.encoder = encoder(c.n_encoder_layers)
        dec_layer = nn.TransformerDecoderLayer(d, c.n_heads, c.dim_feedforward, c.dropout, c.activation,
                                               batch_first=True, norm_first=True)
        self.decoder = nn.TransformerDecoder(dec_layer, c.n_decoder_layers, norm=nn.LayerNorm(d))
        self.queries = nn.Embedding(c.horizon, d)
        self.action_head = nn.Linear(d, c.action_dim)
        # CVAE encoder
        self.vae_cls = nn.Embedding(1, d)
        self.vae_state_proj = nn.Linear(c.state_dim, d)
        self.vae_action_proj = nn.Linear(c.action_dim, d)
        self.vae_encoder = encoder(c.n_vae_encoder_layers)
        self.vae_out = nn.Linear(d, 2 * c.latent_dim)
        self.ensembler = (TemporalEnsembler(c.temporal_ensemble_coeff, c.horizon)
                          if c.temporal_ensemble_coeff is not None else None)
        self._episode_z: torch.Tensor | None = None     # inference_latent "episode": this episode's draw

    def reset(self) -> None:
        super().reset()
        self._episode_z = None
        if self.ensembler is not None:
            self.ensembler.reset()

    def _latent(self, state: torch.Tensor, action: torch.Tensor | None, is_pad: torch.Tensor | None
                ) -> tuple[torch.Tensor, torch.Tensor | None, torch.Tensor | None]:
        """z (B, latent) plus (mu, logvar) when actions are given; z = 0 otherwise."""
        b = state.shape[0]
        if action is None:
            return state.new_zeros(b, self.config.latent_dim), None, None
        tokens = torch.cat([self.vae_cls.weight.expand(b, 1, -1), self.vae_state_proj(state)[:, None],
                            self.vae_action_proj(action)], dim=1)
        tokens = tokens + sinusoidal_1d(tokens.shape[1], tokens.shape[2], tokens.device)
        pad = torch.zeros(b, N_EXTRA_TOKENS, dtype=torch.bool, device=state.device)
        mask = torch.cat([pad, is_pad], dim=1) if is_pad is not None else None
        out = self.vae_encoder(tokens, src_key_padding_mask=mask)[:, 0]
        mu, logvar = self.vae_out(out).chunk(2, dim=-1)
        z = mu + torch.randn_like(mu) * (0.5 * logvar).exp() if self.training else mu
        return z, mu, logvar

    def _decode(self, obs: dict[str, torch.Tensor], z: torch.Tensor) -> torch.Tensor:
        """Prepared obs (B, 1, *) + latent -> normalized chunk (B, Tp, Da)."""
        state = obs["state"][:, -1]
        b = state.shape[0]
        tokens = [self.latent_proj(z)[:, None] + self.extra_pos.weight[0],
                  self.state_proj(state)[:, None] + self.extra_pos.weight[1]]
        for i, key in enumerate(self.config.image_keys):
            fmap = self.input_proj(self.backbones[key](obs[key][:, -1]))  # (B, d, h, w)
            _, d, h, w = fmap.shape
            pos = sinusoidal_2d(h, w, d, fmap.device) + self.camera_embed.weight[i]
            tokens.append(fmap.flatten(2).transpose(1, 2) + pos)
        memory = self.encoder(torch.cat(tokens, dim=1))
        out = self.decoder(self.queries.weight.expand(b, -1, -1), memory)
        return self.action_head(out)

    def forward(self, batch: dict[str, torch.Tensor],
                generator: torch.Generator | None = None) -> tuple[torch.Tensor, dict[str, float]]:
        """``generator`` (CPU) drives the colour jitter; the latent noise uses the global RNG."""
        obs = self.prepare_obs(batch, generator)
        action = self.normalizer.normalize("action", batch["action"])
        is_pad = batch.get("action_is_pad")
        z, mu, logvar = self._latent(obs["state"][:, -1], action, is_pad)
        pred = self._decode(obs, z)
        err = F.l1_loss(pred, action, reduction="none") if self.config.loss == "l1" else \
            F.mse_loss(pred, action, reduction="none")
        valid = (~is_pad).unsqueeze(-1).to(err.dtype) if is_pad is not None else torch.ones_like(err[..., :1])
        recon = (err * valid).sum() / (valid.sum() * err.shape[-1]).clamp_min(1.0)
        kl = (-0.5 * (1 + logvar - mu.pow(2) - logvar.exp())).sum(-1).mean()
        loss = recon + self.config.kl_weight * kl
        return loss, {"recon": float(recon.detach()), "kl": float(kl.detach())}

    def _predict_normalized_chunk(self, obs: dict[str, torch.Tensor],
                                  generator: torch.Generator | None) -> torch.Tensor:
        z, _, _ = self._latent(obs["state"][:, -1], None, None)
        if self.config.inference_latent == "episode":      # one prior draw per episode, held
            held = self._episode_z
            if held is None or held.shape != z.shape:
                held = torch.randn(z.shape, generator=generator, device="cpu").to(z.device, z.dtype)
                self._episode_z = held
            z = held
        return self._decode(obs, z)

    @torch.no_grad()
    def select_action(self, obs_t: dict[str, torch.Tensor],
                      generator: torch.Generator | None = None) -> torch.Tensor:
        """(B, *) one-step obs -> (B, Da). With temporal ensembling a chunk is predicted every
        step and blended with the earlier chunks' predictions for this step."""
        if self.ensembler is None:
            return super().select_action(obs_t, generator)
        history = self.observe(obs_t)
        return self.ensembler.update(self.predict_action_chunk(history, generator))
