"""Run a trained policy on raw numpy observations: the one code path shared by in-process
evaluation and the ROS policy node.

Observation dict (one time step, raw units):
  ``left_rgb``/``right_rgb``: uint8 (H, W, 3), any size (resized to the trained size)
  ``joint_pos`` (n,), ``gripper`` (1,) or scalar, and any other ``state_keys`` of the config
  ``points``: (N, 3) float (robot base frame), for point-cloud policies
Actions are un-normalized, in the dataset's units, for the columns ``action_names``.
"""
from __future__ import annotations

import os
from typing import Mapping

import numpy as np
import torch

from .checkpoint import load_checkpoint
from .errors import ObservationError
from .models import BasePolicy
from .normalizer import resize_images

UINT8_MAX = 255.0
POINT_DIM = 3


class PolicyRuntime:
    """Stateful wrapper: keeps the observation history / action queue of one episode.

    Sampling noise (diffusion) comes from a generator seeded with ``seed`` at every
    :meth:`reset`, so an episode's actions are reproducible.
    """

    def __init__(self, policy: BasePolicy, action_names: list[str] | None = None, dataset_info: dict | None = None,
                 device: str | torch.device = "cpu", seed: int = 0) -> None:
        self.policy = policy.to(device).eval()
        self.config = policy.config
        self.device = torch.device(device)
        self.action_names = list(action_names or [])
        self.dataset_info = dict(dataset_info or {})
        self.seed = seed
        self._generator = torch.Generator()
        self.reset()

    @classmethod
    def load(cls, checkpoint_dir: str | os.PathLike, device: str | torch.device = "cpu", seed: int = 0
             ) -> "PolicyRuntime":
        ckpt = load_checkpoint(checkpoint_dir, device=device)
        return cls(ckpt.policy, ckpt.action_names, ckpt.dataset_info, device, seed)

    def reset(self) -> None:
        self.policy.reset()
        self._generator.manual_seed(self.seed)
        self._history = None

    def _tensor_obs(self, obs: Mapping[str, np.ndarray]) -> dict[str, torch.Tensor]:
        cfg = self.config
        out: dict[str, torch.Tensor] = {}
        for key in cfg.image_keys:
            if key not in obs:
                raise ObservationError(f"observation lacks {key!r}")
            img = np.asarray(obs[key])
            if img.dtype != np.uint8 or img.ndim != 3 or img.shape[2] != 3:
                raise ObservationError(f"{key}: expected uint8 (H, W, 3), got {img.dtype} {img.shape}")
            # resize the uint8 image first (a channels-last view, no copy: torch's uint8 antialiased
            # kernel is ~8x faster than on floats), then convert only the small image to float
            t = resize_images(torch.from_numpy(np.ascontiguousarray(img)).permute(2, 0, 1)[None], cfg.image_size)
            out[key] = t.float().div_(UINT8_MAX).to(self.device)
        parts = []
        for key in cfg.state_keys:
            if key not in obs:
                raise ObservationError(f"observation lacks state key {key!r}")
            parts.append(np.asarray(obs[key], dtype=np.float32).reshape(-1))
        state = np.concatenate(parts)
        if state.shape != (cfg.state_dim,) or not np.all(np.isfinite(state)):
            raise ObservationError(f"state {cfg.state_keys}: expected {cfg.state_dim} finite values, got {state}")
        out["state"] = torch.from_numpy(state)[None].to(self.device)
        if cfg.use_points:
            pts = np.asarray(obs.get("points", np.empty((0, POINT_DIM))), dtype=np.float32)
            if pts.ndim != 2 or pts.shape[1] != POINT_DIM or len(pts) == 0 or not np.all(np.isfinite(pts)):
                raise ObservationError(f"points: expected finite (N, 3) with N >= 1, got {pts.shape}")
            out["points"] = torch.from_numpy(pts)[None].to(self.device)
        return out

    def act(self, obs: Mapping[str, np.ndarray]) -> np.ndarray:
        """One control step -> (Da,) action (queued chunk / temporal ensembling inside)."""
        action = self.policy.select_action(self._tensor_obs(obs), generator=self._generator)
        return action[0].cpu().numpy().astype(np.float64)

    def act_chunk(self, obs: Mapping[str, np.ndarray]) -> np.ndarray:
        """Observe once and return the whole executable chunk, (Ta, Da) (no action queue)."""
        self.observe(obs)
        return self.predict()

    def observe(self, obs: Mapping[str, np.ndarray]) -> None:
        """Append one observation to the history without predicting (frames between re-plans)."""
        self._history = self.policy.observe(self._tensor_obs(obs))

    def predict(self) -> np.ndarray:
        """The executable chunk, (Ta, Da), from the history :meth:`observe` built."""
        if self._history is None:
            raise ObservationError("predict: no observation yet this episode")
        chunk = self.policy.predict_action_chunk(self._history, generator=self._generator)
        return chunk[0].cpu().numpy().astype(np.float64)

    @property
    def default_replan_steps(self) -> int:
        """Chunk rows executed before the next prediction, as the policy was designed: 1 for a
        temporally ensembled ACT (predict at every frame), else its ``n_action_steps`` (diffusion
        policy's receding horizon: execute Ta actions open loop, then re-plan)."""
        if getattr(self.config, "temporal_ensemble_coeff", None) is not None:
            return 1
        return int(getattr(self.config, "n_action_steps", 1))
