"""Imitation policies (ACT, diffusion, point-cloud diffusion) and their registry."""
from __future__ import annotations

from ..errors import PolicyConfigError
from .base import BasePolicy, PolicyConfig
from .configuration_act import ACTConfig
from .configuration_diffusion import DiffusionConfig
from .configuration_pointcloud import PointCloudDiffusionConfig
from .modeling_act import ACTPolicy, TemporalEnsembler
from .modeling_diffusion import DiffusionPolicy, PointCloudDiffusionPolicy

POLICY_CLASSES: dict[str, type[BasePolicy]] = {
    ACTConfig.policy_type: ACTPolicy,
    DiffusionConfig.policy_type: DiffusionPolicy,
    PointCloudDiffusionConfig.policy_type: PointCloudDiffusionPolicy,
}


def policy_class(policy_type: str) -> type[BasePolicy]:
    if policy_type not in POLICY_CLASSES:
        raise PolicyConfigError(f"policy_type={policy_type!r}: expected one of {sorted(POLICY_CLASSES)}")
    return POLICY_CLASSES[policy_type]


def make_config(policy_type: str, **fields) -> PolicyConfig:
    """Config of ``policy_type`` with ``fields`` overriding the (small) defaults."""
    return policy_class(policy_type).config_class(**fields)


def make_policy(config: PolicyConfig) -> BasePolicy:
    return policy_class(config.policy_type)(config)


__all__ = ["ACTConfig", "ACTPolicy", "BasePolicy", "DiffusionConfig", "DiffusionPolicy", "POLICY_CLASSES",
           "PointCloudDiffusionConfig", "PointCloudDiffusionPolicy", "PolicyConfig", "TemporalEnsembler",
           "make_config", "make_policy", "policy_class"]
