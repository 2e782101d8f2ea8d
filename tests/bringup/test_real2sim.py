"""`dexsim real2sim`: the bundled stereo pair and hand track -> projection, the projected skill
replayed in simulation, a physics-verified dataset and the summary page; bad inputs stop with one
line before anything is written."""
from __future__ import annotations

import json

import numpy as np
import pytest

from dexsim_bringup import real2sim
from dexsim_bringup.cli import main
from dexsim_sim.datasets.hdf5 import DatasetReader
from dexsim_sim.projection.pipeline import RealInputs, demo_inputs, project_real_inputs


def test_bundled_inputs_to_a_verified_dataset_and_a_summary_page(tmp_path, capsys):
    out = tmp_path / "r2s"
    assert main(["real2sim", "--out", str(out), "--episodes", "2", "--image-size", "48x64", "--no-progress"]) == 0
    summary = json.loads((out / "summary.json").read_text())
    stages = summary["stages"]
    assert stages["project"]["target"] and stages["project"]["robot_pixels_masked"] > 0
    assert stages["replay"]["success"] is True and stages["replay"]["lift_height_m"] > 0.05
    assert stages["generate"]["episodes_written"] == 2            # the projected skill scales, verified
    reader = DatasetReader(stages["generate"]["dataset"])
    assert len(reader) == 2 and all(ep.success and ep.task == "grasp" for ep in reader)
    page = (out / "summary.md").read_text()
    for heading in ("## 1. Projection", "## 2. The projected skill in simulation", "## 3. Scaled data"):
        assert heading in page
    for png in ("project/projected_scene_overlay.png", "project/keyposes_path.png", "project/keyposes_path_3d.png",
                "generate/replay_strip.png", "generate/dataset/frames.png"):
        assert (out / png).stat().st_size > 1000 and f"]({png})" in page, png


def test_partial_or_bad_inputs_are_one_line_errors_and_write_nothing(tmp_path, capsys):
    out = tmp_path / "r2s"
    assert main(["real2sim", "--out", str(out), "--left", str(demo_inputs()["left"])]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "--right" in err and "--track" in err
    bad = tmp_path / "track.json"
    bad.write_text("{\"frames\": 3}")
    paths = {k: str(v) for k, v in demo_inputs().items()}
    args = ["real2sim", "--out", str(out), "--left", paths["left"], "--right", paths["right"], "--camera-info",
            paths["camera_info"], "--camera-pose", paths["camera_pose"], "--track", str(bad)]
    assert main(args) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "track" in err.lower()
    assert not (out / "project" / "projected_scene.yaml").exists()   # nothing half-written
    assert main(["real2sim", "--out", str(out), "--robot", "ur99"]) == 2
    assert "ur99" in capsys.readouterr().err


def test_a_demonstration_the_robot_cannot_execute_stops_before_generating(tmp_path):
    projected, _, _ = project_real_inputs(RealInputs.bundled("wx250s"), tmp_path / "project")
    keyposes = json.loads(open(projected["keyposes_file"]).read())
    shift = np.array([1.5, 0, 0, 0, 0, 0, 0])                # the whole demonstration 1.5 m further out
    keyposes["poses"] = (np.asarray(keyposes["poses"], float) + shift).tolist()
    keyposes["dense"]["poses"] = (np.asarray(keyposes["dense"]["poses"], float) + shift).tolist()
    far = tmp_path / "far.json"
    far.write_text(json.dumps(keyposes))
    scene = real2sim.generation_scene(projected["scene_file"], tmp_path / "generate")
    skill = real2sim.seed_skill("wx250s", scene, far)
    with pytest.raises(real2sim.Real2SimError, match="fails in simulation"):
        real2sim.replay("wx250s", scene, skill, tmp_path / "generate", (48, 64))
    assert not (tmp_path / "generate" / "replay_strip.png").exists()
