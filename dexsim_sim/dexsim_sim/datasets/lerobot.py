"""LeRobot-style export: `meta/info.json` (features as {dtype, shape, names}), episode and task
indices as JSON lines, and one `.npz` per episode.

LeRobot itself stores frames as parquet and images as mp4; pyarrow and a video encoder are not
installed here, so the per-episode data are numpy `.npz` archives (`savez_compressed`) with the
same column names (`observation.images.left`, `observation.state`, `action`, `timestamp`, ...).
`info.json` says so in `data_format`.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Iterable

import numpy as np

from dexsim_sim.datasets.hdf5 import Episode

CODEBASE_VERSION = "v2.1-dexsim-npz"
DATA_FORMAT = "npz"
CHUNK_SIZE = 1000   # episodes per data/chunk-XXX folder (as LeRobot)
DATA_PATH = "data/chunk-{episode_chunk:03d}/episode_{episode_index:06d}.npz"


class LeRobotExportError(ValueError):
    """Episodes that cannot share one LeRobot feature table."""


def joint_names(ep: Episode) -> list[str]:
    n = ep.obs["joint_pos"].shape[1]
    names = ep.extra.get("joint_names")
    return list(names) if names and len(names) == n else [f"joint_{i}" for i in range(n)]


def episode_frames(ep: Episode, episode_index: int, first_index: int, task_index: int,
                   fps: float) -> dict[str, np.ndarray]:
    """An episode's columns, keyed by LeRobot feature names."""
    T = ep.num_steps
    return {
        "observation.images.left": ep.obs["left_rgb"],
        "observation.images.right": ep.obs["right_rgb"],
        "observation.state": np.concatenate([ep.obs["joint_pos"], ep.obs["gripper"]], axis=1),
        "observation.ee_pose": ep.obs["ee_pose"],
        "observation.points": ep.obs["points"],
        "action": ep.actions,
        "timestamp": (np.arange(T) / fps).astype(np.float32),
        "frame_index": np.arange(T, dtype=np.int64),
        "episode_index": np.full(T, episode_index, dtype=np.int64),
        "index": np.arange(first_index, first_index + T, dtype=np.int64),
        "task_index": np.full(T, task_index, dtype=np.int64),
        "next.done": ep.dones,
    }


def _features(ep: Episode, frames: dict[str, np.ndarray]) -> dict[str, dict[str, Any]]:
    names: dict[str, Any] = {
        "observation.images.left": ["height", "width", "channel"],
        "observation.images.right": ["height", "width", "channel"],
        "observation.state": joint_names(ep) + ["gripper"],
        "observation.ee_pose": ["x", "y", "z", "qx", "qy", "qz", "qw"],
        "observation.points": ["point", "xyz"],
        "action": list(ep.action_names),
    }
    return {k: {"dtype": "image" if k.startswith("observation.images") else str(v.dtype),
                "shape": list(v.shape[1:]) or [1], "names": names.get(k)} for k, v in frames.items()}


def export_lerobot(episodes: Iterable[Episode], out_dir: str | Path, fps: float,
                   robot_type: str = "") -> Path:
    """Write every episode into a LeRobot-style directory; returns the path of meta/info.json."""
    if fps <= 0:
        raise LeRobotExportError(f"fps: expected > 0, got {fps!r}")
    root = Path(out_dir)
    (root / "meta").mkdir(parents=True, exist_ok=True)
    tasks: dict[str, int] = {}
    features: dict[str, dict[str, Any]] | None = None
    total_frames = 0
    episode_lines = []
    for index, ep in enumerate(episodes):
        task_index = tasks.setdefault(ep.task, len(tasks))
        frames = episode_frames(ep, index, total_frames, task_index, fps)
        feats = _features(ep, frames)
        if features is None:
            features = feats
        elif feats != features:
            raise LeRobotExportError(f"episode {index} (seed {ep.seed}): features differ from episode 0")
        path = root / DATA_PATH.format(episode_chunk=index // CHUNK_SIZE, episode_index=index)
        path.parent.mkdir(parents=True, exist_ok=True)
        np.savez_compressed(path, **frames)
        episode_lines.append({"episode_index": index, "seed": ep.seed, "length": ep.num_steps,
                              "success": ep.success, "tasks": [ep.task]})
        total_frames += ep.num_steps
        robot_type = robot_type or ep.robot
    if features is None:
        raise LeRobotExportError("episodes: nothing to export")
    n = len(episode_lines)
    info = {"codebase_version": CODEBASE_VERSION, "data_format": DATA_FORMAT, "robot_type": robot_type,
            "fps": fps, "total_episodes": n, "total_frames": total_frames, "total_tasks": len(tasks),
            "chunks_size": CHUNK_SIZE, "total_chunks": (n - 1) // CHUNK_SIZE + 1, "splits": {"train": f"0:{n}"},
            "data_path": DATA_PATH, "features": features}
    (root / "meta" / "episodes.jsonl").write_text("".join(json.dumps(e) + "\n" for e in episode_lines))
    (root / "meta" / "tasks.jsonl").write_text(
        "".join(json.dumps({"task_index": i, "task": t}) + "\n" for t, i in tasks.items()))
    info_path = root / "meta" / "info.json"
    info_path.write_text(json.dumps(info, indent=2))
    return info_path


def load_lerobot_episode(root: str | Path, episode_index: int) -> dict[str, np.ndarray]:
    """Read one exported episode's columns back."""
    root = Path(root)
    info = json.loads((root / "meta" / "info.json").read_text())
    path = root / info["data_path"].format(episode_chunk=episode_index // info["chunks_size"],
                                           episode_index=episode_index)
    with np.load(path) as z:
        return {k: z[k] for k in z.files}
