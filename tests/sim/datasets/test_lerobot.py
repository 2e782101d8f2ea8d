"""LeRobot-style export: info.json features, episode index, npz columns equal to the source."""
from __future__ import annotations

import json

import numpy as np
import pytest

from dexsim_sim.datasets.lerobot import LeRobotExportError, export_lerobot, load_lerobot_episode


def test_export_and_read_back(tmp_path, episode_factory):
    eps = [episode_factory(4, T=3), episode_factory(9, T=5, success=False)]
    info_path = export_lerobot(eps, tmp_path, fps=10.0)
    info = json.loads(info_path.read_text())
    assert info["total_episodes"] == 2 and info["total_frames"] == 8 and info["data_format"] == "npz"
    assert info["robot_type"] == "wx250s"
    f = info["features"]
    assert f["observation.images.left"] == {"dtype": "image", "shape": [12, 16, 3],
                                            "names": ["height", "width", "channel"]}
    assert f["action"]["shape"] == [21] and f["action"]["names"] == eps[0].action_names
    assert f["observation.state"]["names"] == eps[0].extra["joint_names"] + ["gripper"]
    assert f["observation.points"] == {"dtype": "float32", "shape": [1024, 3], "names": ["point", "xyz"]}
    lines = [json.loads(x) for x in (tmp_path / "meta" / "episodes.jsonl").read_text().splitlines()]
    assert [(e["seed"], e["length"], e["success"]) for e in lines] == [(4, 3, True), (9, 5, False)]
    d = load_lerobot_episode(tmp_path, 1)
    np.testing.assert_array_equal(d["observation.images.right"], eps[1].obs["right_rgb"])
    np.testing.assert_array_equal(d["action"], eps[1].actions)
    np.testing.assert_array_equal(d["index"], np.arange(3, 8))      # global frame index continues
    np.testing.assert_allclose(d["timestamp"], np.arange(5) / 10.0, atol=1e-6)
    np.testing.assert_array_equal(d["observation.state"][:, :6], eps[1].obs["joint_pos"])
    assert d["next.done"].tolist() == [False, False, False, False, True]


def test_mismatched_features_are_refused(tmp_path, episode_factory):
    with pytest.raises(LeRobotExportError, match="episode 1 \\(seed 2\\): features differ"):
        export_lerobot([episode_factory(1), episode_factory(2, H=8)], tmp_path, fps=10.0)
