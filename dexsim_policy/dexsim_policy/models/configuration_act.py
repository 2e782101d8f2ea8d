"""ACT (Action Chunking with Transformers, Zhao et al. 2023) configuration.

Defaults are tiny (train on a 2-core CPU in minutes); :meth:`ACTConfig.paper` is the size the
DexSim paper (appendix A.3.1, after HumanPlus HIT) used for grasping: two ResNet-18 backbones,
GELU, 6 transformer decoder layers, MSE action loss; width 256 gives ~31 M parameters (the paper
reports 30.4 M). The paper trained with AdamW, lr 1e-5, batch 12 (set those in TrainConfig).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from .base import PolicyConfig, _require

ACTIVATIONS = ("relu", "gelu")
LOSSES = ("l1", "mse")
RESNET18_WIDTHS = (64, 128, 256, 512)
RESNET18_BLOCKS = (2, 2, 2, 2)


@dataclass
class ACTConfig(PolicyConfig):
    policy_type: ClassVar[str] = "act"

    n_obs_steps: int = 1
    horizon: int = 10  # chunk size
    n_action_steps: int = 1  # 1 with temporal ensembling (query every step)
    image_size: tuple[int, int] = (96, 128)  # the data engine's demo size
    # three stages after the stride-4 stem: stride 16, a 6 x 8 token map per camera at 96 x 128 (a
    # stride-32 ResNet-18 trunk at 48 x 64 left 2 x 2 tokens, the object a fraction of one)
    backbone_widths: tuple[int, ...] = (16, 32, 64)
    backbone_blocks: tuple[int, ...] = (1, 1, 1)
    backbone_norm: str = "group"
    backbone_stem_pool: bool = True   # False: no stem max-pool (stride halves again, 4x the conv cost)
    dim_model: int = 64
    n_heads: int = 4
    dim_feedforward: int = 128
    n_encoder_layers: int = 2
    n_decoder_layers: int = 1
    n_vae_encoder_layers: int = 1
    latent_dim: int = 16
    dropout: float = 0.0
    activation: str = "relu"
    kl_weight: float = 10.0
    loss: str = "l1"
    temporal_ensemble_coeff: float | None = 0.01  # ACT's m: weights exp(-m * i), i = 0 oldest
    # The CVAE latent at inference: "zero" (ACT: the prior's mean) or "episode" (one draw from the
    # prior per episode, held: with a small kl_weight the latent can carry which of several equally
    # good demonstrations, e.g. two symmetric grasps, a sample follows, and a held draw commits to
    # one instead of averaging them)
    inference_latent: str = "zero"

    def __post_init__(self) -> None:
        super().__post_init__()
        n = type(self).__name__
        self.backbone_widths = tuple(int(w) for w in self.backbone_widths)
        self.backbone_blocks = tuple(int(b) for b in self.backbone_blocks)
        _require(self.n_obs_steps == 1, n, "n_obs_steps", self.n_obs_steps, "1 (ACT sees one frame)")
        _require(len(self.backbone_widths) == len(self.backbone_blocks) >= 1 and min(self.backbone_widths) >= 1
                 and min(self.backbone_blocks) >= 1, n, "backbone_widths/blocks",
                 (self.backbone_widths, self.backbone_blocks), "equal-length positive tuples")
        _require(self.backbone_norm in ("group", "batch"), n, "backbone_norm", self.backbone_norm, "'group' or 'batch'")
        _require(self.dim_model >= 2 and self.dim_model % self.n_heads == 0, n, "dim_model", self.dim_model,
                 f"a positive multiple of n_heads ({self.n_heads})")
        for f in ("n_heads", "dim_feedforward", "n_encoder_layers", "n_decoder_layers", "n_vae_encoder_layers",
                  "latent_dim"):
            _require(getattr(self, f) >= 1, n, f, getattr(self, f), ">= 1")
        _require(0.0 <= self.dropout < 1.0, n, "dropout", self.dropout, "0 <= dropout < 1")
        _require(self.activation in ACTIVATIONS, n, "activation", self.activation, f"one of {ACTIVATIONS}")
        _require(self.kl_weight >= 0.0, n, "kl_weight", self.kl_weight, ">= 0")
        _require(self.loss in LOSSES, n, "loss", self.loss, f"one of {LOSSES}")
        _require(self.inference_latent in ("zero", "episode"), n, "inference_latent", self.inference_latent,
                 "'zero' or 'episode'")
        if self.temporal_ensemble_coeff is not None:
            _require(self.temporal_ensemble_coeff >= 0.0, n, "temporal_ensemble_coeff",
                     self.temporal_ensemble_coeff, ">= 0 or None")
            _require(self.n_action_steps == 1, n, "n_action_steps", self.n_action_steps,
                     "1 when temporal_ensemble_coeff is set (the policy is queried every step)")

    @classmethod
    def paper(cls, **overrides) -> "ACTConfig":
        """Paper-size grasping model (appendix A.3.1): 2x ResNet-18, 6 decoders, GELU, MSE."""
        base = dict(image_size=(512, 640), horizon=50, backbone_widths=RESNET18_WIDTHS,
                    backbone_blocks=RESNET18_BLOCKS, dim_model=256, n_heads=8, dim_feedforward=1024,
                    n_encoder_layers=1, n_decoder_layers=6, n_vae_encoder_layers=2, latent_dim=32,
                    dropout=0.1, activation="gelu", loss="mse")
        base.update(overrides)
        return cls(**base)
