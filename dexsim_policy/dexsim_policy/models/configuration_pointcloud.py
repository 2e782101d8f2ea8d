"""Point-cloud diffusion policy configuration: PointNet over the object-centric masked cloud
(``obs/points``, 1024 points, robot base frame) + state, same diffusion head as
:class:`DiffusionConfig`. The paper's open-box model (appendix A.3.2) observes once (To = 1) and
predicts 72 steps, executed at once; :meth:`PointCloudDiffusionConfig.paper` uses To = 1,
Tp = Ta = 72 with a 3-level U-Net (72 is a multiple of 4).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from .base import _require
from .configuration_diffusion import DiffusionConfig

PAPER_NUM_POINTS = 1024


@dataclass
class PointCloudDiffusionConfig(DiffusionConfig):
    policy_type: ClassVar[str] = "pointcloud_diffusion"

    image_keys: tuple[str, ...] = ()
    use_points: bool = True
    pointnet_hidden: tuple[int, ...] = (32, 64, 128)
    point_feature_dim: int = 64

    def __post_init__(self) -> None:
        super().__post_init__()
        n = type(self).__name__
        self.pointnet_hidden = tuple(int(h) for h in self.pointnet_hidden)
        _require(self.use_points, n, "use_points", self.use_points, "True")
        _require(len(self.pointnet_hidden) >= 1 and min(self.pointnet_hidden) >= 1, n, "pointnet_hidden",
                 self.pointnet_hidden, "a non-empty tuple of positive widths")
        _require(self.point_feature_dim >= 1, n, "point_feature_dim", self.point_feature_dim, ">= 1")

    @classmethod
    def paper(cls, **overrides) -> "PointCloudDiffusionConfig":
        """Open-box setting: To = 1, Tp = Ta = 72, 1024 points, wide PointNet and U-Net."""
        base = dict(n_obs_steps=1, horizon=72, n_action_steps=72, num_points=PAPER_NUM_POINTS,
                    pointnet_hidden=(64, 128, 256, 512), point_feature_dim=256, down_dims=(256, 512, 1024),
                    step_embed_dim=128)
        base.update(overrides)
        return cls(**base)
