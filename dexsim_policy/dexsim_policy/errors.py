"""Typed errors raised by the policy core (no ROS, no torch)."""
from __future__ import annotations


class PolicyError(Exception):
    """Base class of every error raised by dexsim_policy."""


class PolicyConfigError(PolicyError, ValueError):
    """A policy/training config field has a bad value (the message names the field and value)."""


class DatasetError(PolicyError):
    """The HDF5 dataset is missing, malformed, or does not match the policy's needs."""


class CheckpointError(PolicyError):
    """A checkpoint is refused: pickle, tampered, mismatched config or tensors."""


class SafetyError(PolicyError, ValueError):
    """The safety filter was called with arguments of the wrong shape (values are filtered, not raised)."""


class ObservationError(PolicyError, ValueError):
    """A runtime observation is missing a key or has the wrong dtype/shape."""
