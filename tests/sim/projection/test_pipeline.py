"""The bundled demo inputs, the file-level pipeline (what the node and `dexsim project` call) and
the full Real2Sim loop: bundled stereo pair + hand track -> projected scene + keyposes -> the
keyposes replayed in a sim built from the projected scene succeed."""
from __future__ import annotations

import json

import cv2
import numpy as np
import pytest
import yaml

from dexsim_bringup.cli import main as dexsim_main
from dexsim_sim.demo_data.make import make
from dexsim_sim.env import DexSimEnv
from dexsim_sim.projection.pipeline import (DEMO_DATA, PipelineError, ProjectionCancelled, demo_inputs, load_camera_info, load_camera_pose,
                                            project_demo, run_demo_projection)
from dexsim_sim.projection.hand_track import load_track
from dexsim_sim.projection.replay_check import replay_in_env
from dexsim_sim.projection.retarget import load_keyposes
from dexsim_sim.tasks.grasp import GraspConfig
from dexsim_sim.world.scene import load_scene

MAX_BUNDLE_BYTES = 2 * 1024 * 1024


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("demo_projection")
    return run_demo_projection(out, "wx250s")


def test_bundled_inputs_regenerate_identically_and_are_small(tmp_path):
    make(tmp_path)
    bundled = demo_inputs()
    for key, path in bundled.items():
        fresh = tmp_path / path.name
        if path.suffix == ".png":
            assert np.array_equal(cv2.imread(str(fresh)), cv2.imread(str(path))), path.name
        else:
            assert fresh.read_text() == path.read_text(), path.name
    total = sum(p.stat().st_size for p in DEMO_DATA.iterdir() if p.is_file())
    assert total < MAX_BUNDLE_BYTES


def test_demo_projection_accuracy_against_ground_truth(demo_run):
    acc = demo_run["accuracy"]
    print(json.dumps(acc["scene"]["objects"]), acc["demo"], demo_run["seconds_per_frame"])
    assert acc["scene"]["category_accuracy"] >= 0.9
    assert acc["scene"]["max_position_error_m"] < 0.015
    assert acc["demo"]["max_position_error_m"] < 0.01
    assert acc["demo"]["grasp_frame_error"] <= 2
    for path in [demo_run["scene_file"], demo_run["scene_report"], demo_run["keyposes_file"], *demo_run["overlays"]]:
        assert open(path, "rb").read(), path
    scene = load_scene(demo_run["scene_file"])
    target = [o for o in scene.objects if o.role == "target"]
    assert [o.category for o in target] == ["box"]              # the object the hand grasped


def test_projected_skill_succeeds_in_the_projected_scene(demo_run):
    env = DexSimEnv(task="grasp", robot="wx250s", scene=demo_run["scene_file"], render_images=False,
                    max_episode_steps=150)
    try:
        env.task.config = GraspConfig(xy_range=0.0, yaw_range=0.0)    # the scene exactly as projected
        env.reset(seed=0)
        result = replay_in_env(env, load_keyposes(demo_run["keyposes_file"]))
    finally:
        env.close()
    assert result.success, result.info


def test_cli_scene_and_demo_with_bundled_defaults(tmp_path, capsys):
    assert dexsim_main(["project", "scene", "--out", str(tmp_path / "scene")]) == 0
    assert (tmp_path / "scene" / "projected_scene.yaml").is_file()
    assert (tmp_path / "scene" / "projected_scene_overlay.png").is_file()
    assert (tmp_path / "scene" / "projected_scene.projection.json").is_file()
    assert dexsim_main(["project", "demo", "--robot", "sr3", "--out", str(tmp_path / "demo")]) == 0
    seq = load_keyposes(tmp_path / "demo" / "keyposes.json")
    assert "grasp" in seq.labels and seq.meta["robot"] == "sr3"
    assert (tmp_path / "demo" / "keyposes_path.png").is_file()


@pytest.mark.parametrize("argv, message", [
    (["project", "scene", "--left", "/nonexistent.png"], "left image: file not found"),
    (["project", "scene", "--camera-pose", "1,2,3"], "camera pose: file not found"),
    (["project", "scene", "--camera-pose", "0,0,0,0,0,0,0"], "quaternion has zero norm"),
    (["project", "demo", "--robot", "ur5"], "unknown robot 'ur5'"),
])
def test_cli_errors_are_one_line(tmp_path, capsys, argv, message):
    assert dexsim_main(argv + ["--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0], err


def test_no_table_in_cli_input_is_a_named_error(tmp_path, capsys):
    paths = demo_inputs()
    sky = np.zeros((512, 640, 3), np.uint8)
    sky[:] = np.random.default_rng(0).integers(0, 255, (512, 640, 1), dtype=np.uint8)   # texture, no table
    cv2.imwrite(str(tmp_path / "l.png"), sky)
    cv2.imwrite(str(tmp_path / "r.png"), np.roll(sky, -8, axis=1))                       # a far fronto-parallel wall
    argv = ["project", "scene", "--left", str(tmp_path / "l.png"), "--right", str(tmp_path / "r.png"),
            "--camera-info", str(paths["camera_info"]), "--camera-pose", str(paths["camera_pose"])]
    assert dexsim_main(argv + ["--out", str(tmp_path)]) == 2
    assert "no dominant horizontal plane" in capsys.readouterr().err


def test_camera_files_both_layouts_and_errors(tmp_path):
    left, right = load_camera_info(demo_inputs()["camera_info"])
    ros_calib = {"image_width": left["width"], "image_height": left["height"],
                 "camera_matrix": {"rows": 3, "cols": 3, "data": left["K"]},
                 "projection_matrix": {"rows": 3, "cols": 4, "data": left["P"]}}
    (tmp_path / "mono.yaml").write_text(yaml.safe_dump(ros_calib))
    mono, none = load_camera_info(tmp_path / "mono.yaml")
    assert none is None and mono["K"] == left["K"] and mono["width"] == 640
    (tmp_path / "bad.yaml").write_text("left: {camera_matrix: {}}")
    with pytest.raises(PipelineError, match="incomplete ROS calibration"):
        load_camera_info(tmp_path / "bad.yaml")
    (tmp_path / "pose.yaml").write_text("rotation: [1, 2]")
    with pytest.raises(PipelineError, match="needs base_from_optical or world_from_optical"):
        load_camera_pose(tmp_path / "pose.yaml")
    world = load_camera_pose(demo_inputs()["camera_pose"])
    shifted = load_camera_pose(demo_inputs()["camera_pose"], (-0.3, 0.0, 0.0, 0.0, 0.0, 0.0, 1.0))
    assert np.allclose(shifted[:3, 3] - world[:3, 3], (0.3, 0.0, 0.0))


def test_demo_with_depth_dir_and_cancel(tmp_path):
    track = load_track(demo_inputs()["track"])
    left, _ = load_camera_info(demo_inputs()["camera_info"])
    base_from_optical = load_camera_pose(demo_inputs()["camera_pose"], (-0.3, 0.0, 0.0, 0.0, 0.0, 0.0, 1.0))
    with pytest.raises(PipelineError, match="no <frame:06d>.npy/.png"):
        project_demo(track, base_from_optical, left, depth_dir=tmp_path)
    calls = []
    with pytest.raises(ProjectionCancelled, match="cancelled after 3 of"):
        project_demo(track, base_from_optical, left, progress=lambda d, t, s: calls.append(d) or d < 3)
    assert calls == [1, 2, 3]
