"""LeRobot dataset v3.0 export: what ``lerobot.datasets.lerobot_dataset.LeRobotDataset`` reads.

Layout and fields as LeRobot writes them (huggingface/lerobot v0.4.0,
``src/lerobot/datasets/utils.py``: ``INFO_PATH``, ``DEFAULT_DATA_PATH``, ``DEFAULT_VIDEO_PATH``,
``DEFAULT_EPISODES_PATH``, ``DEFAULT_TASKS_PATH``, ``create_empty_dataset_info``,
``get_hf_features_from_features``; ``lerobot_dataset.py``: ``save_episode``; ``compute_stats.py``)::

    meta/info.json                         codebase_version "v3.0", fps, totals, path templates, features
    meta/stats.json                        per feature min/max/mean/std/count and q01..q99
    meta/tasks.parquet                     task string (pandas index) -> task_index
    meta/episodes/chunk-000/file-000.parquet   one row per episode: length, tasks, data/video file
                                           indices, dataset_from/to_index, videos/<key>/from/to_timestamp
    data/chunk-000/file-000.parquet        one row per frame: every non-video feature
    videos/<key>/chunk-000/file-000.mp4    every episode's frames of one camera, back to back

Many episodes share one data file and one video file per camera (a new file after
``data_file_size_mb`` / ``video_file_size_mb``); frame k of a video file is at k / fps, so a frame
is at ``from_timestamp + timestamp`` of its episode. Videos are H.264 (libx264, yuv420p, constant
frame rate, a keyframe every 2 frames for seeking), which both of LeRobot's decoders (torchcodec,
PyAV) read. Vectors are fixed-size float32 lists; the object-centric point cloud is a (N, 3)
float32 feature. ``lerobot`` itself cannot be installed beside this project's torch (its
releases for Python 3.11 pin torch < 2.11), so the tests check the files against the schema above
and decode the videos back with PyAV, as LeRobot's ``pyav`` backend does.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Iterable

import numpy as np

from dexsim_sim.datasets.hdf5 import Episode

CODEBASE_VERSION = "v3.0"
CHUNK_SIZE = 1000                 # files per chunk folder (DEFAULT_CHUNK_SIZE)
DATA_FILE_SIZE_MB = 100           # DEFAULT_DATA_FILE_SIZE_IN_MB
VIDEO_FILE_SIZE_MB = 500          # DEFAULT_VIDEO_FILE_SIZE_IN_MB
CHUNK_FILE = "chunk-{chunk_index:03d}/file-{file_index:03d}"
DATA_PATH = "data/" + CHUNK_FILE + ".parquet"
VIDEO_PATH = "videos/{video_key}/" + CHUNK_FILE + ".mp4"
EPISODES_PATH = "meta/episodes/" + CHUNK_FILE + ".parquet"
TASKS_PATH = "meta/tasks.parquet"
VIDEO_CODEC, PIX_FMT, VIDEO_CRF, VIDEO_GOP = "libx264", "yuv420p", 18, 2
QUANTILES = (0.01, 0.10, 0.50, 0.90, 0.99)
CAMERAS = {"observation.images.left": "left_rgb", "observation.images.right": "right_rgb"}
MB = 1024 * 1024


class LeRobotExportError(ValueError):
    """Episodes that cannot share one LeRobot feature table, or an unwritable export."""


def joint_names(ep: Episode) -> list[str]:
    n = ep.obs["joint_pos"].shape[1]
    names = ep.extra.get("joint_names")
    return list(names) if names and len(names) == n else [f"joint_{i}" for i in range(n)]


def episode_columns(ep: Episode) -> dict[str, np.ndarray]:
    """An episode's non-video, non-index columns, keyed by LeRobot feature names."""
    cols = {
        "observation.state": np.concatenate([ep.obs["joint_pos"], ep.obs["gripper"]], axis=1).astype(np.float32),
        "observation.ee_pose": ep.obs["ee_pose"].astype(np.float32),
        "action": ep.actions.astype(np.float32),
        "next.done": np.asarray(ep.dones, bool),
    }
    if "points" in ep.obs:
        cols["observation.points"] = ep.obs["points"].astype(np.float32)
    return cols


def _features(ep: Episode, fps: int) -> dict[str, dict[str, Any]]:
    names = {"observation.state": joint_names(ep) + ["gripper"],
             "observation.ee_pose": ["x", "y", "z", "qx", "qy", "qz", "qw"],
             "observation.points": ["point", "xyz"], "action": list(ep.action_names), "next.done": None}
    feats: dict[str, dict[str, Any]] = {}
    for key, src in CAMERAS.items():
        h, w = ep.obs[src].shape[1:3]
        feats[key] = {"dtype": "video", "shape": [int(h), int(w), 3], "names": ["height", "width", "channels"],
                      "info": {"video.height": int(h), "video.width": int(w), "video.codec": "h264",
                               "video.pix_fmt": PIX_FMT, "video.is_depth_map": False, "video.fps": fps,
                               "video.channels": 3, "has_audio": False}}
    for key, value in episode_columns(ep).items():
        shape = list(value.shape[1:]) or [1]
        feats[key] = {"dtype": "bool" if value.dtype == bool else str(value.dtype), "shape": shape,
                      "names": names.get(key)}
    for key, dtype in (("timestamp", "float32"), ("frame_index", "int64"), ("episode_index", "int64"),
                       ("index", "int64"), ("task_index", "int64")):
        feats[key] = {"dtype": dtype, "shape": [1], "names": None}
    return feats


def _arrow_column(values: np.ndarray):
    """A feature's arrow column: a scalar, a fixed-size list (vector) or a list of fixed-size lists."""
    import pyarrow as pa

    if values.ndim == 1:
        return pa.array(values)
    flat = pa.array(values.reshape(-1))
    if values.ndim == 2:
        return pa.FixedSizeListArray.from_arrays(flat, values.shape[1])
    inner = pa.FixedSizeListArray.from_arrays(flat, values.shape[2])
    return pa.FixedSizeListArray.from_arrays(inner, values.shape[1])


class _Video:
    """One camera's current mp4 file: frames appended back to back at a constant rate."""

    def __init__(self, path: Path, fps: int, width: int, height: int) -> None:
        import av

        if width % 2 or height % 2:
            raise LeRobotExportError(f"video: {width}x{height} images; H.264 yuv420p needs even sizes")
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path, self.frames = path, 0
        self.container = av.open(str(path), mode="w")
        self.stream = self.container.add_stream(VIDEO_CODEC, rate=fps)
        self.stream.width, self.stream.height, self.stream.pix_fmt = width, height, PIX_FMT
        self.stream.options = {"crf": str(VIDEO_CRF), "g": str(VIDEO_GOP), "preset": "veryfast"}

    def add(self, frames: np.ndarray) -> None:
        import av

        for rgb in frames:
            frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(rgb), format="rgb24")
            frame.pts = self.frames
            for packet in self.stream.encode(frame):
                self.container.mux(packet)
            self.frames += 1

    def close(self) -> None:
        for packet in self.stream.encode():
            self.container.mux(packet)
        self.container.close()


def _index(n: int) -> tuple[int, int]:
    return n // CHUNK_SIZE, n % CHUNK_SIZE


def _stats(values: np.ndarray, image: bool = False) -> dict[str, list]:
    """LeRobot's per-feature stats; images per channel over [0, 1] with shape (3, 1, 1)."""
    v = values.astype(np.float64)
    if image:
        v = v.reshape(-1, 3) / 255.0
    else:
        v = v.reshape(len(v), -1) if v.ndim > 1 else v[:, None]
    out = {"min": v.min(0), "max": v.max(0), "mean": v.mean(0), "std": v.std(0),
           "count": np.array([len(values)])}
    out.update({f"q{int(round(q * 100)):02d}": np.quantile(v, q, axis=0) for q in QUANTILES})
    shape = (3, 1, 1) if image else (values.shape[1:] or (1,))
    return {k: (s.reshape(shape) if k != "count" else s).tolist() for k, s in out.items()}


def export_lerobot(episodes: Iterable[Episode], out_dir: str | Path, fps: float, robot_type: str = "",
                   data_file_size_mb: float = DATA_FILE_SIZE_MB,
                   video_file_size_mb: float = VIDEO_FILE_SIZE_MB) -> Path:
    """Write every episode as a LeRobot v3.0 dataset in ``out_dir`` (must be empty or absent);
    returns the path of meta/info.json."""
    import pandas as pd
    import pyarrow as pa
    import pyarrow.parquet as pq

    if not (fps > 0 and float(fps).is_integer()):
        raise LeRobotExportError(f"fps: LeRobot needs a positive integer frame rate, got {fps!r}")
    fps = int(fps)
    root = Path(out_dir)
    if root.exists() and any(root.iterdir()):
        raise LeRobotExportError(f"out: {root} is not empty (a LeRobot export goes to a new folder)")
    tasks: dict[str, int] = {}
    features: dict[str, dict[str, Any]] | None = None
    episode_rows: list[dict[str, Any]] = []
    data_rows: list[dict[str, np.ndarray]] = []
    data_file, data_bytes, videos, video_bytes, video_file = 0, 0, {}, 0, 0
    all_cols: dict[str, list[np.ndarray]] = {}
    total = 0

    def flush_data() -> None:
        nonlocal data_rows, data_bytes
        if not data_rows:
            return
        merged = {k: np.concatenate([r[k] for r in data_rows]) for k in data_rows[0]}
        table = pa.table({k: _arrow_column(v) for k, v in merged.items()})
        path = root / DATA_PATH.format(chunk_index=_index(data_file)[0], file_index=_index(data_file)[1])
        path.parent.mkdir(parents=True, exist_ok=True)
        pq.write_table(table, path)
        data_rows, data_bytes = [], 0

    def close_videos() -> None:
        for video in videos.values():
            video.close()
        videos.clear()

    for index, ep in enumerate(episodes):
        feats = _features(ep, fps)
        if features is None:
            features = feats
        elif feats != features:
            raise LeRobotExportError(f"episode {index} (seed {ep.seed}): features differ from episode 0")
        task_index = tasks.setdefault(ep.task, len(tasks))
        T = ep.num_steps
        cols = episode_columns(ep)
        cols.update(timestamp=(np.arange(T) / fps).astype(np.float32), frame_index=np.arange(T, dtype=np.int64),
                    episode_index=np.full(T, index, np.int64), index=np.arange(total, total + T, dtype=np.int64),
                    task_index=np.full(T, task_index, np.int64))
        size = sum(v.nbytes for v in cols.values())
        if data_rows and (data_bytes + size) / MB > data_file_size_mb:
            flush_data()
            data_file += 1
        frames_bytes = sum(ep.obs[src].nbytes for src in CAMERAS.values())
        if videos and (video_bytes + frames_bytes) / MB > video_file_size_mb:
            close_videos()
            video_file, video_bytes = video_file + 1, 0
        row: dict[str, Any] = {"episode_index": index, "tasks": [ep.task], "length": T,
                               "data/chunk_index": _index(data_file)[0], "data/file_index": _index(data_file)[1],
                               "dataset_from_index": total, "dataset_to_index": total + T}
        for key, src in CAMERAS.items():
            if key not in videos:
                h, w = ep.obs[src].shape[1:3]
                videos[key] = _Video(root / VIDEO_PATH.format(video_key=key, chunk_index=_index(video_file)[0],
                                                              file_index=_index(video_file)[1]), fps, w, h)
            start = videos[key].frames
            videos[key].add(ep.obs[src])
            row.update({f"videos/{key}/chunk_index": _index(video_file)[0],
                        f"videos/{key}/file_index": _index(video_file)[1],
                        f"videos/{key}/from_timestamp": start / fps, f"videos/{key}/to_timestamp": (start + T) / fps})
            all_cols.setdefault(key, []).append(ep.obs[src][:: max(1, T // 8)])   # stats from a frame sample
        for key, value in episode_columns(ep).items():
            all_cols.setdefault(key, []).append(value)
        row.update({"meta/episodes/chunk_index": 0, "meta/episodes/file_index": 0, "seed": int(ep.seed),
                    "success": bool(ep.success)})
        episode_rows.append(row)
        data_rows.append(cols)
        data_bytes += size
        video_bytes += frames_bytes
        total += T
        robot_type = robot_type or ep.robot
    if features is None:
        raise LeRobotExportError("episodes: nothing to export")
    flush_data()
    close_videos()
    n = len(episode_rows)
    meta = root / "meta"
    path = root / EPISODES_PATH.format(chunk_index=0, file_index=0)
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.Table.from_pylist(episode_rows), path)
    pd.DataFrame({"task_index": list(tasks.values())}, index=pd.Index(list(tasks), name="task")).to_parquet(
        meta / "tasks.parquet")
    stats = {k: _stats(np.concatenate(v), image=k in CAMERAS) for k, v in all_cols.items()}
    (meta / "stats.json").write_text(json.dumps(stats))
    info = {"codebase_version": CODEBASE_VERSION, "robot_type": robot_type or None, "total_episodes": n,
            "total_frames": total, "total_tasks": len(tasks), "chunks_size": CHUNK_SIZE,
            "data_files_size_in_mb": data_file_size_mb, "video_files_size_in_mb": video_file_size_mb,
            "fps": fps, "splits": {"train": f"0:{n}"}, "data_path": DATA_PATH, "video_path": VIDEO_PATH,
            "features": features}
    info_path = meta / "info.json"
    info_path.write_text(json.dumps(info, indent=2))
    return info_path


def read_lerobot_frames(root: str | Path, episode_index: int, key: str) -> np.ndarray:
    """(T, H, W, 3) uint8 frames of one episode's camera ``key``, located as LeRobot does
    (``videos/<key>/from_timestamp`` + each frame's ``timestamp``, in frames of ``fps``) and decoded with PyAV."""
    import av
    import pyarrow.parquet as pq

    root = Path(root)
    info = json.loads((root / "meta" / "info.json").read_text())
    eps = pq.read_table(root / EPISODES_PATH.format(chunk_index=0, file_index=0)).to_pylist()
    ep = eps[episode_index]
    path = root / info["video_path"].format(video_key=key, chunk_index=ep[f"videos/{key}/chunk_index"],
                                            file_index=ep[f"videos/{key}/file_index"])
    first = int(round(ep[f"videos/{key}/from_timestamp"] * info["fps"]))
    wanted = set(range(first, first + ep["length"]))
    frames = {}
    with av.open(str(path)) as container:
        for i, frame in enumerate(container.decode(video=0)):
            if i in wanted:
                frames[i] = frame.to_ndarray(format="rgb24")
            if i >= first + ep["length"]:
                break
    if len(frames) != ep["length"]:
        raise LeRobotExportError(f"{path}: {len(frames)} of {ep['length']} frames of episode {episode_index}")
    return np.stack([frames[i] for i in sorted(frames)])


def read_lerobot_episode(root: str | Path, episode_index: int) -> dict[str, np.ndarray]:
    """One episode's data-parquet columns (as numpy arrays) by ``dataset_from/to_index``."""
    import pyarrow.parquet as pq

    root = Path(root)
    info = json.loads((root / "meta" / "info.json").read_text())
    ep = pq.read_table(root / EPISODES_PATH.format(chunk_index=0, file_index=0)).to_pylist()[episode_index]
    table = pq.read_table(root / info["data_path"].format(chunk_index=ep["data/chunk_index"],
                                                          file_index=ep["data/file_index"]))
    start = ep["dataset_from_index"] - int(table.column("index")[0].as_py())
    part = table.slice(start, ep["length"])
    import pyarrow as pa

    out = {}
    for name in part.column_names:
        column = part.column(name).combine_chunks()
        while pa.types.is_list(column.type) or pa.types.is_fixed_size_list(column.type):
            column = column.flatten()
        shape = info["features"][name]["shape"]
        values = column.to_numpy(zero_copy_only=False)
        out[name] = values if shape == [1] else values.reshape([ep["length"], *shape])
    return out


__all__ = ["CODEBASE_VERSION", "LeRobotExportError", "export_lerobot", "read_lerobot_episode", "read_lerobot_frames"]
