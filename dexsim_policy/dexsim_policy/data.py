"""Reader for DexSim HDF5 datasets (layout in docs/CONTRACTS.md) and a windowed torch Dataset.

Independent of the dataset writer: reads the documented layout with plain h5py.

A sample at time ``t`` of an episode with ``T`` steps holds
  - observations at ``t + obs_offsets`` (``To`` frames, indices clamped to ``[0, T-1]``, i.e. the
    first frame is repeated before the episode start), and
  - actions at ``t + action_offsets`` (``Tp`` steps; indices outside ``[0, T-1]`` are clamped to
    the edge value and flagged in ``action_is_pad``).

Sample dict (torch tensors, no batch dim):
  ``left_rgb``/``right_rgb`` (To, 3, H, W) float32 in [0, 1]  (only the requested cameras)
  ``points``   (To, N, 3) float32 (robot base frame)          (only when requested)
  ``state``    (To, Ds) float32 = concat of ``state_keys`` (default joint_pos | gripper)
  ``action``   (Tp, Da) float32 = ``actions[:, action_indices]``
  ``action_is_pad`` (Tp,) bool
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import h5py
import numpy as np
import torch
from torch.utils.data import Dataset

from dexsim_sim.datasets.hdf5 import DatasetLayoutError, open_shard

from .errors import DatasetError

DATASET_FORMAT = "dexsim-hdf5"
SHARD_GLOB = "shard_*.h5"
IMAGE_KEYS = ("left_rgb", "right_rgb")
ACTION_DIM_FULL = 21
# Names of the 21 action components (CONTRACTS.md, "Dataset").
ACTION_NAMES_FULL: tuple[str, ...] = (
    tuple(f"joint_{i}" for i in range(6))
    + tuple(f"ee_base_{k}" for k in ("x", "y", "z", "qx", "qy", "qz", "qw"))
    + ("gripper",)
    + tuple(f"ee_cam_{k}" for k in ("x", "y", "z", "qx", "qy", "qz", "qw"))
)
DEFAULT_ACTION_INDICES: tuple[int, ...] = (0, 1, 2, 3, 4, 5, 13)  # 6 joint targets + gripper
DEFAULT_STATE_KEYS: tuple[str, ...] = ("joint_pos", "gripper")
MAX_ARMS = 4                     # a dataset's actions are 21 columns per arm (bimanual: 42)
ARM_STATE_KEYS: tuple[str, ...] = ("joint_pos", "gripper_arms")   # every arm's joints | every arm's gap
UINT8_MAX = 255.0


@dataclass(frozen=True)
class EpisodeRef:
    """Where one episode lives: shard file, group name and length (steps)."""

    shard: Path
    key: str
    num_steps: int
    success: bool


@dataclass(frozen=True)
class WindowSpec:
    """Which frames a sample holds, relative to its anchor time step."""

    obs_offsets: tuple[int, ...]
    action_offsets: tuple[int, ...]

    @classmethod
    def from_horizons(cls, n_obs_steps: int, action_start: int, horizon: int) -> "WindowSpec":
        """``n_obs_steps`` frames ending at t; ``horizon`` actions starting at ``t + action_start``."""
        return cls(
            obs_offsets=tuple(range(-(n_obs_steps - 1), 1)),
            action_offsets=tuple(range(action_start, action_start + horizon)),
        )


def list_episodes(data_dir: str | os.PathLike) -> list[EpisodeRef]:
    """All episodes of the dataset in ``data_dir`` (sorted by shard, then key)."""
    root = Path(data_dir)
    if not root.is_dir():
        raise DatasetError(f"dataset directory {root} does not exist")
    shards = sorted(root.glob(SHARD_GLOB))
    if not shards:
        raise DatasetError(f"no {SHARD_GLOB} files in {root}")
    episodes: list[EpisodeRef] = []
    for shard in shards:
        try:
            f = open_shard(shard)
        except DatasetLayoutError as exc:
            raise DatasetError(str(exc)) from None
        with f:
            fmt = f.attrs.get("format")
            if fmt != DATASET_FORMAT:
                raise DatasetError(f"{shard}: attr format={fmt!r}, expected {DATASET_FORMAT!r}")
            if "data" not in f:
                raise DatasetError(f"{shard}: no /data group")
            for key in sorted(f["data"].keys()):
                grp = f["data"][key]
                if "actions" not in grp or "obs" not in grp:
                    raise DatasetError(f"{shard}:/data/{key}: missing 'actions' or 'obs'")
                n = int(grp["actions"].shape[0])
                width = grp["actions"].shape[1] if grp["actions"].ndim == 2 else 0
                if width % ACTION_DIM_FULL or not 1 <= width // ACTION_DIM_FULL <= MAX_ARMS:
                    raise DatasetError(f"{shard}:/data/{key}/actions: shape {grp['actions'].shape}, expected "
                                       f"(T, {ACTION_DIM_FULL} per arm) for 1..{MAX_ARMS} arms")
                episodes.append(EpisodeRef(shard, key, n, bool(grp.attrs.get("success", True))))
    return episodes


def split_episodes(
    episodes: Sequence[EpisodeRef], val_fraction: float, seed: int
) -> tuple[list[EpisodeRef], list[EpisodeRef]]:
    """Seeded split by episode (never by frame); at least one training episode, and one
    validation episode whenever ``val_fraction > 0`` and there are two or more episodes."""
    if not 0.0 <= val_fraction < 1.0:
        raise DatasetError(f"val_fraction={val_fraction}: expected 0 <= val_fraction < 1")
    order = np.random.default_rng(seed).permutation(len(episodes))
    n_val = int(round(val_fraction * len(episodes)))
    if val_fraction > 0 and len(episodes) >= 2:
        n_val = min(max(n_val, 1), len(episodes) - 1)
    val = [episodes[i] for i in sorted(order[:n_val])]
    train = [episodes[i] for i in sorted(order[n_val:])]
    return train, val


def read_episode_arrays(ep: EpisodeRef, keys: Sequence[str]) -> dict[str, np.ndarray]:
    """Whole-episode arrays: ``"actions"`` or ``"obs/<name>"`` keys."""
    with h5py.File(ep.shard, "r") as f:
        grp = f["data"][ep.key]
        out = {}
        for k in keys:
            if k not in grp:
                raise DatasetError(f"{ep.shard}:/data/{ep.key}: missing dataset {k!r}")
            out[k] = np.asarray(grp[k][...])
        return out


def arm_layout(n_arms: int) -> tuple[tuple[int, ...], tuple[str, ...], int]:
    """(action_indices, state_keys, state_dim) that drive ``n_arms`` arms: each arm's 6 joint
    targets and gripper (arm ``a``'s columns offset by ``21 a``), from every arm's joint positions
    and finger gaps. One arm: the defaults (``joint_pos | gripper``)."""
    if not 1 <= int(n_arms) <= MAX_ARMS:
        raise DatasetError(f"n_arms={n_arms}: expected 1..{MAX_ARMS}")
    if n_arms == 1:
        return DEFAULT_ACTION_INDICES, DEFAULT_STATE_KEYS, len(DEFAULT_ACTION_INDICES)
    indices = tuple(ACTION_DIM_FULL * a + i for a in range(n_arms) for i in DEFAULT_ACTION_INDICES)
    return indices, ARM_STATE_KEYS, len(indices)


def dataset_info(data_dir: str | os.PathLike) -> dict:
    """Small JSON-able description: image size, state/point shapes, robot/task, action names."""
    episodes = list_episodes(data_dir)
    ep = episodes[0]
    with h5py.File(ep.shard, "r") as f:
        grp = f["data"][ep.key]
        obs = grp["obs"]
        obs_keys = set(obs.keys())
        names = grp.attrs.get("action_names")
        info = {
            "data_dir": str(Path(data_dir).resolve()),
            "num_episodes": len(episodes),
            "num_steps": int(sum(e.num_steps for e in episodes)),
            "robot": str(grp.attrs.get("robot", "")),
            "task": str(grp.attrs.get("task", "")),
            "image_size": list(obs["left_rgb"].shape[1:3]) if "left_rgb" in obs else None,
            "num_joints": int(obs["joint_pos"].shape[1]) if "joint_pos" in obs else None,
            "num_points": int(obs["points"].shape[1]) if "points" in obs else None,
            "action_names": json.loads(names) if names is not None else list(ACTION_NAMES_FULL),
            "num_arms": int(grp["actions"].shape[1]) // ACTION_DIM_FULL,
        }
        extra = json.loads(grp.attrs.get("extra", "{}"))
        camera = json.loads(grp.attrs.get("camera", "{}"))
        spec = json.loads(grp.attrs.get("spec", "{}"))
    card_path = Path(data_dir) / "card.json"
    card_extra = json.loads(card_path.read_text()).get("extra", {}) if card_path.is_file() else {}
    # how the data was made, so evaluation can rebuild the same world (scene "" = the task's default)
    info.update(renderer=extra.get("renderer", ""), scene_file=card_extra.get("scene_file", ""),
                cameras=[k for k in IMAGE_KEYS if k in obs_keys], camera=camera, dr_spec=spec.get("name", ""),
                skill_noise=spec.get("skill_noise"))
    return info


def _action_width(ep: EpisodeRef) -> int:
    with h5py.File(ep.shard, "r") as f:
        return int(f["data"][ep.key]["actions"].shape[1])


class WindowDataset(Dataset):
    """Windows (observation history + action chunk) over a list of episodes.

    Args:
        episodes: episodes to sample from (see :func:`list_episodes`, :func:`split_episodes`).
        window: frame offsets of observations and actions.
        image_keys: cameras to load (subset of ``IMAGE_KEYS``); empty for none.
        load_points: also load ``obs/points``.
        state_keys: ``obs/<key>`` arrays concatenated into ``state``.
        action_indices: columns of the action (21 per arm) that the policy predicts.
        preload: read every episode into memory once (fast random access for training).
    """

    def __init__(
        self,
        episodes: Sequence[EpisodeRef],
        window: WindowSpec,
        image_keys: Sequence[str] = IMAGE_KEYS,
        load_points: bool = False,
        state_keys: Sequence[str] = DEFAULT_STATE_KEYS,
        action_indices: Sequence[int] = DEFAULT_ACTION_INDICES,
        preload: bool = False,
    ) -> None:
        if not episodes:
            raise DatasetError("WindowDataset: no episodes")
        bad = [k for k in image_keys if k not in IMAGE_KEYS]
        if bad:
            raise DatasetError(f"image_keys: unknown camera(s) {bad}, expected a subset of {IMAGE_KEYS}")
        width = min(_action_width(ep) for ep in episodes)
        bad_idx = [i for i in action_indices if not 0 <= i < width]
        if bad_idx:
            raise DatasetError(f"action_indices: {bad_idx} outside the dataset's [0, {width}) action columns")
        self.episodes = list(episodes)
        self.window = window
        self.image_keys = tuple(image_keys)
        self.load_points = load_points
        self.state_keys = tuple(state_keys)
        self.action_indices = np.asarray(action_indices, dtype=np.int64)
        self._index = [(e, t) for e, ep in enumerate(self.episodes) for t in range(ep.num_steps)]
        self._files: dict[Path, h5py.File] = {}
        self._pid = os.getpid()
        self._cache: list[dict[str, np.ndarray]] | None = None
        if preload:   # every array this dataset reads, in memory (uint8 images: ~74 kB per 96x128 frame)
            keys = ["actions"] + [f"obs/{k}" for k in (*self.image_keys, *self.state_keys)]
            keys += ["obs/points"] if load_points else []
            self._cache = [read_episode_arrays(ep, keys) for ep in self.episodes]

    def __len__(self) -> int:
        return len(self._index)

    def _group(self, ep: EpisodeRef) -> h5py.Group:
        if self._pid != os.getpid():  # forked DataLoader worker: h5py handles are not fork-safe
            self._files, self._pid = {}, os.getpid()
        f = self._files.get(ep.shard)
        if f is None:
            f = self._files[ep.shard] = h5py.File(ep.shard, "r")
        return f["data"][ep.key]

    @staticmethod
    def _read_frames(dset, idx: np.ndarray) -> np.ndarray:
        if isinstance(dset, np.ndarray):
            return dset[idx]
        lo, hi = int(idx.min()), int(idx.max())
        return np.asarray(dset[lo : hi + 1])[idx - lo]

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        e, t = self._index[i]
        ep = self.episodes[e]
        if self._cache is not None:
            arrays = self._cache[e]
            grp = {"actions": arrays["actions"], "obs": {k[4:]: v for k, v in arrays.items() if k.startswith("obs/")}}
        else:
            grp = self._group(ep)
        last = ep.num_steps - 1
        obs_idx = np.clip(t + np.asarray(self.window.obs_offsets), 0, last)
        raw_act_idx = t + np.asarray(self.window.action_offsets)
        act_idx = np.clip(raw_act_idx, 0, last)
        obs = grp["obs"]
        sample: dict[str, torch.Tensor] = {}
        for key in self.image_keys:
            img = self._read_frames(obs[key], obs_idx)  # (To, H, W, 3) uint8
            sample[key] = torch.from_numpy(img).permute(0, 3, 1, 2).float().div_(UINT8_MAX)
        if self.load_points:
            sample["points"] = torch.from_numpy(self._read_frames(obs["points"], obs_idx).astype(np.float32))
        state = [self._read_frames(obs[k], obs_idx).reshape(len(obs_idx), -1) for k in self.state_keys]
        sample["state"] = torch.from_numpy(np.concatenate(state, axis=1).astype(np.float32))
        actions = self._read_frames(grp["actions"], act_idx)[:, self.action_indices]
        sample["action"] = torch.from_numpy(actions.astype(np.float32))
        sample["action_is_pad"] = torch.from_numpy((raw_act_idx < 0) | (raw_act_idx > last))
        return sample

    def feature_arrays(self) -> dict[str, np.ndarray]:
        """All frames of state, action (and points, subsampled) over the episodes, for stats."""
        keys = ["actions"] + [f"obs/{k}" for k in self.state_keys]
        if self.load_points:
            keys.append("obs/points")
        states, actions, points = [], [], []
        for ep in self.episodes:
            arr = read_episode_arrays(ep, keys)
            actions.append(arr["actions"][:, self.action_indices])
            states.append(np.concatenate(
                [arr[f"obs/{k}"].reshape(ep.num_steps, -1) for k in self.state_keys], axis=1))
            if self.load_points:
                points.append(arr["obs/points"].reshape(-1, 3))
        out = {"state": np.concatenate(states).astype(np.float64),
               "action": np.concatenate(actions).astype(np.float64)}
        if self.load_points:
            out["points"] = np.concatenate(points).astype(np.float64)
        return out

    def close(self) -> None:
        for f in self._files.values():
            f.close()
        self._files = {}

    def __getstate__(self) -> dict:
        state = dict(self.__dict__)
        state["_files"] = {}
        return state
