"""LeRobot v3.0 export: the files LeRobotDataset reads (info.json, data and episodes parquet,
tasks.parquet, stats.json, H.264 videos), checked against LeRobot's schema and read back the way
its loader does (lerobot itself does not install beside this project's torch)."""
from __future__ import annotations

import json

import numpy as np
import pyarrow.parquet as pq
import pytest

from dexsim_sim.datasets.lerobot import (LeRobotExportError, export_lerobot, read_lerobot_episode,
                                         read_lerobot_frames)

H, W = 32, 48


def _smooth(ep, phase):
    """Camera frames a video codec can keep (gradients that move), replacing the noise images."""
    T = ep.num_steps
    v, u = np.mgrid[0:H, 0:W]
    for key, k in (("left_rgb", 0), ("right_rgb", 1)):
        frames = [np.stack([(4 * u + 9 * t + phase) % 256, (5 * v + 7 * t + 40 * k) % 256,
                            np.full_like(u, 60 + 20 * t)], -1).astype(np.uint8) for t in range(T)]
        ep.obs[key] = np.stack(frames)
    return ep


@pytest.fixture
def exported(tmp_path, episode_factory):
    eps = [_smooth(episode_factory(4, T=3, H=H, W=W), 0), _smooth(episode_factory(9, T=5, H=H, W=W, success=False), 50)]
    return eps, tmp_path / "lerobot", export_lerobot(eps, tmp_path / "lerobot", fps=10)


def test_info_and_meta_follow_lerobot_v3(exported):
    eps, root, info_path = exported
    info = json.loads(info_path.read_text())
    assert info["codebase_version"] == "v3.0" and info["fps"] == 10 and info["robot_type"] == "wx250s"
    assert (info["total_episodes"], info["total_frames"], info["total_tasks"]) == (2, 8, 1)
    assert info["data_path"] == "data/chunk-{chunk_index:03d}/file-{file_index:03d}.parquet"
    assert info["video_path"] == "videos/{video_key}/chunk-{chunk_index:03d}/file-{file_index:03d}.mp4"
    f = info["features"]
    for key in ("timestamp", "frame_index", "episode_index", "index", "task_index"):      # LeRobot's DEFAULT_FEATURES
        assert f[key]["shape"] == [1]
    left = f["observation.images.left"]
    assert left["dtype"] == "video" and left["shape"] == [H, W, 3] and left["info"]["video.fps"] == 10
    assert f["action"] == {"dtype": "float32", "shape": [21], "names": eps[0].action_names}
    assert f["observation.points"]["shape"] == [1024, 3]
    # the data parquet holds exactly the non-video features (LeRobot casts it to them)
    data = pq.read_table(root / "data/chunk-000/file-000.parquet")
    assert set(data.column_names) == {k for k, v in f.items() if v["dtype"] != "video"}
    assert data.column("index").to_pylist() == list(range(8)) and data.num_rows == info["total_frames"]
    episodes = pq.read_table(root / "meta/episodes/chunk-000/file-000.parquet").to_pylist()
    assert [(e["episode_index"], e["length"], e["dataset_from_index"], e["dataset_to_index"]) for e in episodes] == \
        [(0, 3, 0, 3), (1, 5, 3, 8)]
    assert episodes[1]["videos/observation.images.left/from_timestamp"] == pytest.approx(0.3)
    assert episodes[0]["tasks"] == ["grasp"] and episodes[1]["success"] is False
    import pandas as pd

    tasks = pd.read_parquet(root / "meta/tasks.parquet")
    assert tasks.loc["grasp"].task_index == 0 and tasks.iloc[0].name == "grasp"
    stats = json.loads((root / "meta/stats.json").read_text())
    assert np.array(stats["observation.images.left"]["mean"]).shape == (3, 1, 1)
    assert {"min", "max", "mean", "std", "count", "q01", "q99"} <= set(stats["action"])
    np.testing.assert_allclose(stats["action"]["mean"], np.concatenate([e.actions for e in eps]).mean(0), rtol=1e-5)


def test_frames_and_columns_read_back(exported):
    eps, root, _ = exported
    d = read_lerobot_episode(root, 1)
    np.testing.assert_allclose(d["action"], eps[1].actions, rtol=1e-6)
    np.testing.assert_array_equal(d["index"], np.arange(3, 8))
    np.testing.assert_allclose(d["timestamp"], np.arange(5) / 10.0, atol=1e-6)
    np.testing.assert_allclose(d["observation.points"], eps[1].obs["points"], rtol=1e-6)
    assert d["next.done"].tolist() == [False, False, False, False, True]
    for key, src in (("observation.images.left", "left_rgb"), ("observation.images.right", "right_rgb")):
        frames = read_lerobot_frames(root, 1, key)            # the second episode: from_timestamp 0.3 s
        assert frames.shape == eps[1].obs[src].shape
        assert np.abs(frames.astype(int) - eps[1].obs[src]).mean() < 4.0     # H.264 at crf 18


def test_refusals(tmp_path, episode_factory):
    with pytest.raises(LeRobotExportError, match="episode 1 \\(seed 2\\): features differ"):
        export_lerobot([episode_factory(1, H=12), episode_factory(2, H=8)], tmp_path / "a", fps=10)
    with pytest.raises(LeRobotExportError, match="integer frame rate"):
        export_lerobot([episode_factory(1)], tmp_path / "b", fps=7.5)
    (tmp_path / "c").mkdir()
    (tmp_path / "c" / "x").write_text("")
    with pytest.raises(LeRobotExportError, match="not empty"):
        export_lerobot([episode_factory(1)], tmp_path / "c", fps=10)


def test_export_verb_on_a_generated_dataset(tmp_path, capsys):
    """`dexsim generate` -> `dexsim export --format lerobot`: rendered frames survive the video."""
    from dexsim_bringup.cli import main
    from dexsim_sim.datasets.hdf5 import DatasetReader

    data, out = tmp_path / "ds", tmp_path / "lr"
    assert main(["generate", "--episodes", "1", "--out", str(data), "--image-size", "48x64", "--no-progress"]) == 0
    capsys.readouterr()
    assert main(["export", "--data", str(data), "--out", str(out)]) == 0
    summary = json.loads(capsys.readouterr().out)
    (ep,) = list(DatasetReader(data))
    assert summary["format"] == "lerobot v3.0" and summary["frames"] == ep.num_steps and summary["fps"] == 10
    frames = read_lerobot_frames(out, 0, "observation.images.left")
    assert np.abs(frames.astype(int) - ep.obs["left_rgb"]).mean() < 3.0
    assert main(["export", "--data", str(data), "--out", str(out)]) == 2          # never into a full folder
    assert "not empty" in capsys.readouterr().err
