"""HDF5 dataset writer and reader (layout: docs/CONTRACTS.md, "Dataset").

Crash safety: a shard is written as `shard_XXXXX.h5.partial`, then closed, fsynced and renamed
(`os.replace`, atomic) to `shard_XXXXX.h5`. An episode is therefore either complete in a finalised
shard or absent; `completed_seeds` lists the finalised episodes (deleting `.partial` leftovers) so
a generator resumes without duplicates. `card.json` is rebuilt from the shards on `close()`.
"""
from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

import h5py
import numpy as np

from dexsim_sim.datasets.card import DatasetCard, EpisodeSummary, build_card, write_card

FORMAT = "dexsim-hdf5"
VERSION = 1
SHARD_RE = re.compile(r"^shard_(\d{5})\.h5$")
PARTIAL_SUFFIX = ".partial"
NUM_POINTS = 1024
POSE_DIM = 7
IMAGE_KEYS = ("left_rgb", "right_rgb", "depth", "seg")
# obs key -> (dtype, trailing shape; -1 = any size, "H"/"W" = the image size)
OBS_LAYOUT: dict[str, tuple[np.dtype, tuple[Any, ...]]] = {
    "left_rgb": (np.dtype(np.uint8), ("H", "W", 3)),
    "right_rgb": (np.dtype(np.uint8), ("H", "W", 3)),
    "depth": (np.dtype(np.float32), ("H", "W")),
    "seg": (np.dtype(np.int32), ("H", "W")),
    "points": (np.dtype(np.float32), (NUM_POINTS, 3)),
    "joint_pos": (np.dtype(np.float32), (-1,)),
    "joint_vel": (np.dtype(np.float32), (-1,)),
    "ee_pose": (np.dtype(np.float32), (POSE_DIM,)),
    "gripper": (np.dtype(np.float32), (1,)),
}
JSON_ATTRS = ("dr_sample", "spec", "action_names", "camera", "extra")
EPISODE_ATTRS = ("robot", "task", "seed", "success", "dr_sample", "spec", "num_steps", "action_names", "camera")


class DatasetError(RuntimeError):
    """Base class of dataset errors."""


class EpisodeError(DatasetError, ValueError):
    """An episode does not fit the layout (names the array and the problem)."""


class DuplicateEpisodeError(DatasetError):
    """An episode with this seed is already in the dataset."""


class DatasetLayoutError(DatasetError):
    """A file on disk does not follow the layout (names shard, group and missing item)."""


def episode_group_name(seed: int) -> str:
    return f"ep_{seed:08d}"


@dataclass
class Episode:
    """One trajectory. Arrays are time-major (T, ...); see OBS_LAYOUT for shapes and dtypes.

    Float arrays are cast to float32; images must be uint8 and seg integer. Extra obs keys are
    stored as given. `extra` holds further JSON-serialisable metadata (e.g. joint_names).
    """

    seed: int
    robot: str
    task: str
    success: bool
    obs: dict[str, np.ndarray]
    actions: np.ndarray
    dones: np.ndarray
    action_names: list[str]
    dr_sample: dict[str, Any] = field(default_factory=dict)
    spec: dict[str, Any] = field(default_factory=dict)
    camera: dict[str, Any] = field(default_factory=dict)
    failure_reason: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if isinstance(self.seed, bool) or not isinstance(self.seed, (int, np.integer)) or self.seed < 0:
            raise EpisodeError(f"seed: expected a non-negative integer, got {self.seed!r}")
        self.seed = int(self.seed)
        self.success = bool(self.success)
        self.actions = np.asarray(self.actions, dtype=np.float32)
        if self.actions.ndim != 2:
            raise EpisodeError(f"actions: expected (T, A), got shape {self.actions.shape}")
        T = self.actions.shape[0]
        if T < 1:
            raise EpisodeError("actions: expected at least one step, got T=0")
        if self.actions.shape[1] != len(self.action_names):
            raise EpisodeError(f"actions: {self.actions.shape[1]} columns but {len(self.action_names)} action_names")
        self.dones = np.asarray(self.dones).astype(bool)
        if self.dones.shape != (T,):
            raise EpisodeError(f"dones: expected shape ({T},), got {self.dones.shape}")
        missing = [k for k in OBS_LAYOUT if k not in self.obs]
        if missing:
            raise EpisodeError(f"obs: missing {missing}")
        hw = np.asarray(self.obs["left_rgb"]).shape[1:3]
        for key, arr in list(self.obs.items()):
            self.obs[key] = _check_obs(key, np.asarray(arr), T, hw)
        for key in JSON_ATTRS:
            try:
                json.dumps(getattr(self, key))
            except TypeError as e:
                raise EpisodeError(f"{key}: not JSON-serialisable ({e})") from None

    @property
    def num_steps(self) -> int:
        return int(self.actions.shape[0])

    @property
    def image_size(self) -> tuple[int, int]:
        """(H, W) of the stored images."""
        h, w = self.obs["left_rgb"].shape[1:3]
        return int(h), int(w)


def _check_obs(key: str, arr: np.ndarray, T: int, hw: tuple[int, ...]) -> np.ndarray:
    if arr.shape[:1] != (T,):
        raise EpisodeError(f"obs/{key}: expected {T} steps, got shape {arr.shape}")
    if key not in OBS_LAYOUT:
        return arr
    dtype, trailing = OBS_LAYOUT[key]
    want = tuple(hw[0] if d == "H" else hw[1] if d == "W" else d for d in trailing)
    if len(arr.shape) != 1 + len(want) or any(w != -1 and s != w for s, w in zip(arr.shape[1:], want)):
        raise EpisodeError(f"obs/{key}: expected (T, {', '.join(map(str, want))}), got {arr.shape}")
    if dtype == np.uint8 and arr.dtype != np.uint8:
        raise EpisodeError(f"obs/{key}: expected uint8, got {arr.dtype}")
    if dtype == np.int32 and not np.issubdtype(arr.dtype, np.integer):
        raise EpisodeError(f"obs/{key}: expected an integer type, got {arr.dtype}")
    return arr.astype(dtype, copy=False)


def _fsync_path(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def open_shard(path: str | Path) -> h5py.File:
    """Open a shard for reading; a truncated, foreign or unreadable file is a one-line
    :class:`DatasetLayoutError` naming it (h5py's own OSError names neither the file nor the fix)."""
    try:
        return h5py.File(path, "r")
    except OSError as exc:
        reason = str(exc).split("(", 1)[-1].rstrip(")") if "(" in str(exc) else str(exc)
        raise DatasetLayoutError(f"{path}: not a readable HDF5 shard ({reason})") from None


def _finalised_shards(out_dir: Path) -> list[Path]:
    return sorted(p for p in out_dir.iterdir() if SHARD_RE.match(p.name))


def completed_seeds(out_dir: str | Path) -> set[int]:
    """Seeds of every episode in a finalised shard; deletes `.partial` leftovers of a crashed run."""
    out = Path(out_dir)
    if not out.exists():
        return set()
    for p in out.glob(f"*{PARTIAL_SUFFIX}"):
        p.unlink()
    seeds: set[int] = set()
    for shard in _finalised_shards(out):
        with open_shard(shard) as f:
            if "data" in f:
                seeds.update(int(g.attrs["seed"]) for g in f["data"].values())
    return seeds


class DatasetWriter:
    """Append episodes into shards of `episodes_per_shard`; `close()` finalises and writes card.json.

    Resumes an existing directory: finalised shards are kept, new shards get the next indices,
    and a seed already present raises DuplicateEpisodeError (ask `completed_seeds` first).
    """

    def __init__(self, out_dir: str | Path, episodes_per_shard: int = 50, robot: str = "", task: str = "",
                 dr_spec: dict[str, Any] | None = None, image_compression: str | None = "lzf",
                 card_extra: dict[str, Any] | None = None):
        if isinstance(episodes_per_shard, bool) or not isinstance(episodes_per_shard, int) or episodes_per_shard < 1:
            raise ValueError(f"episodes_per_shard: expected an integer >= 1, got {episodes_per_shard!r}")
        if image_compression not in ("lzf", "gzip", None):
            raise ValueError(f"image_compression: expected 'lzf', 'gzip' or None, got {image_compression!r}")
        self.out_dir = Path(out_dir)
        self.out_dir.mkdir(parents=True, exist_ok=True)
        self.episodes_per_shard = episodes_per_shard
        self.robot, self.task, self.dr_spec = robot, task, dr_spec
        self.image_compression = image_compression
        self.card_extra = dict(card_extra or {})
        self._seeds = completed_seeds(self.out_dir)
        existing = _finalised_shards(self.out_dir)
        self._next_index = int(SHARD_RE.match(existing[-1].name).group(1)) + 1 if existing else 0
        self._file: h5py.File | None = None
        self._partial: Path | None = None
        self._in_shard = 0
        self._closed = False

    def __enter__(self) -> "DatasetWriter":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    @property
    def seeds(self) -> set[int]:
        """Seeds written so far (finalised before plus this session's)."""
        return set(self._seeds)

    def add_episode(self, ep: Episode) -> None:
        if self._closed:
            raise DatasetError("add_episode: writer is closed")
        if ep.seed in self._seeds:
            raise DuplicateEpisodeError(f"seed {ep.seed} is already in {self.out_dir}")
        if self._file is None:
            self._open_shard()
        assert self._file is not None
        _write_episode(self._file["data"], ep, self.image_compression)
        self._seeds.add(ep.seed)
        self._in_shard += 1
        if self._in_shard >= self.episodes_per_shard:
            self._finalise()

    def _open_shard(self) -> None:
        self._partial = self.out_dir / f"shard_{self._next_index:05d}.h5{PARTIAL_SUFFIX}"
        self._file = h5py.File(self._partial, "w")
        self._file.attrs["format"] = FORMAT
        self._file.attrs["version"] = VERSION
        self._file.create_group("data", track_order=True)   # iterate in write order
        self._in_shard = 0

    def _finalise(self) -> None:
        assert self._file is not None and self._partial is not None
        self._file.close()
        _fsync_path(self._partial)
        final = self._partial.with_name(self._partial.name[: -len(PARTIAL_SUFFIX)])
        os.replace(self._partial, final)
        _fsync_path(self.out_dir)
        self._file, self._partial = None, None
        self._next_index += 1

    def close(self) -> DatasetCard:
        """Finalise the open shard (if any) and (re)write card.json from every shard."""
        if self._file is not None:
            self._finalise()
        self._closed = True
        reader = DatasetReader(self.out_dir, validate=False)
        card = build_card(reader.summaries(), len(reader.shards), self.dr_spec, self.robot, self.task,
                          self.card_extra)
        write_card(self.out_dir, card)
        return card


def _write_episode(data: h5py.Group, ep: Episode, compression: str | None) -> None:
    g = data.create_group(episode_group_name(ep.seed))
    g.attrs["robot"] = ep.robot
    g.attrs["task"] = ep.task
    g.attrs["seed"] = ep.seed
    g.attrs["success"] = ep.success
    g.attrs["num_steps"] = ep.num_steps
    g.attrs["failure_reason"] = ep.failure_reason
    g.attrs["image_size"] = np.asarray(ep.image_size, dtype=np.int64)
    for key in JSON_ATTRS:
        g.attrs[key] = json.dumps(getattr(ep, key))
    obs = g.create_group("obs")
    for key, arr in ep.obs.items():
        if key in IMAGE_KEYS and compression is not None:
            obs.create_dataset(key, data=arr, compression=compression, chunks=(1, *arr.shape[1:]))
        else:
            obs.create_dataset(key, data=arr)
    g.create_dataset("actions", data=ep.actions)
    g.create_dataset("dones", data=ep.dones)


def _read_episode(g: h5py.Group) -> Episode:
    a = g.attrs
    js = {k: json.loads(a[k]) if k in a else {} for k in JSON_ATTRS}
    return Episode(seed=int(a["seed"]), robot=str(a["robot"]), task=str(a["task"]), success=bool(a["success"]),
                   obs={k: d[()] for k, d in g["obs"].items()}, actions=g["actions"][()], dones=g["dones"][()],
                   action_names=js["action_names"], dr_sample=js["dr_sample"], spec=js["spec"],
                   camera=js["camera"], failure_reason=str(a.get("failure_reason", "")), extra=js["extra"] or {})


class DatasetReader:
    """Read a dataset directory: iterate episodes in shard order, or fetch one by seed."""

    def __init__(self, path: str | Path, validate: bool = True):
        self.path = Path(path)
        if not self.path.is_dir():
            raise DatasetLayoutError(f"{self.path}: not a directory")
        self.shards = _finalised_shards(self.path)
        self._index: dict[int, tuple[Path, str]] = {}
        for shard in self.shards:
            with open_shard(shard) as f:
                if validate:
                    _validate_shard(shard.name, f)
                for name, g in f["data"].items() if "data" in f else ():
                    self._index[int(g.attrs["seed"])] = (shard, name)

    def __len__(self) -> int:
        return len(self._index)

    def __contains__(self, seed: int) -> bool:
        return seed in self._index

    @property
    def seeds(self) -> list[int]:
        return sorted(self._index)

    def episode(self, seed: int) -> Episode:
        if seed not in self._index:
            raise KeyError(f"seed {seed} not in {self.path}")
        shard, name = self._index[seed]
        with open_shard(shard) as f:
            return _read_episode(f["data"][name])

    def __iter__(self) -> Iterator[Episode]:
        for shard in self.shards:
            with open_shard(shard) as f:
                for g in f["data"].values():
                    yield _read_episode(g)

    def summaries(self) -> list[EpisodeSummary]:
        """Per-episode facts from attributes only (no arrays read)."""
        out = []
        for shard in self.shards:
            with open_shard(shard) as f:
                for g in f["data"].values():
                    a = g.attrs
                    out.append(EpisodeSummary(int(a["seed"]), bool(a["success"]), int(a["num_steps"]),
                                              str(a.get("failure_reason", "")), str(a["robot"]), str(a["task"]),
                                              tuple(int(x) for x in a.get("image_size", (0, 0)))))
        return out


def validate_dataset(path: str | Path) -> int:
    """Check every shard against the layout; returns the number of episodes, raises DatasetLayoutError."""
    return len(DatasetReader(path, validate=True))


def _validate_shard(where: str, f: h5py.File) -> None:
    for key, want in (("format", FORMAT), ("version", VERSION)):
        if key not in f.attrs:
            raise DatasetLayoutError(f"{where}:/ attribute '{key}' missing")
        if f.attrs[key] != want:
            raise DatasetLayoutError(f"{where}:/ attribute '{key}' is {f.attrs[key]!r}, expected {want!r}")
    if "data" not in f:
        raise DatasetLayoutError(f"{where}:/data: missing group")
    for name, g in f["data"].items():
        at = f"{where}:/data/{name}"
        for key in EPISODE_ATTRS:
            if key not in g.attrs:
                raise DatasetLayoutError(f"{at}: attribute '{key}' missing")
        T = int(g.attrs["num_steps"])
        for key in [f"obs/{k}" for k in OBS_LAYOUT] + ["actions", "dones"]:
            if key not in g:
                raise DatasetLayoutError(f"{at}/{key}: missing dataset")
            if g[key].shape[0] != T:
                raise DatasetLayoutError(f"{at}/{key}: {g[key].shape[0]} steps, num_steps is {T}")
        if g.name.rsplit("/", 1)[-1] != episode_group_name(int(g.attrs["seed"])):
            raise DatasetLayoutError(f"{at}: name does not match seed attribute {int(g.attrs['seed'])}")
