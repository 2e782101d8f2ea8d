"""Scene file model: shipped scenes load, round trips, and validation errors name field and value."""
from __future__ import annotations

import copy
from pathlib import Path

import pytest

from dexsim_sim.world.scene import Scene, SceneError, load_scene

SCENES = sorted((Path(__file__).resolve().parents[3] / "dexsim_sim" / "dexsim_sim" / "scenes").glob("*.yaml"))
BASE = {
    "name": "t",
    "robot": {"name": "sr3", "base_pose": [0, 0, 0, 0, 0, 0, 1]},
    "objects": [
        {"name": "a", "category": "can", "asset": "can_small", "pose": [0.3, 0, 0, 0, 0, 0, 1]},
        {"name": "b", "category": "box", "asset": "box_small", "pose": [0.3, 0.1, 0, 0, 0, 0, 1]},
        {"name": "c", "category": "cup", "asset": "cup_small", "pose": [0.3, -0.1, 0, 0, 0, 0, 1]},
    ],
}


def test_every_shipped_scene_loads():
    assert len(SCENES) >= 4
    for path in SCENES:
        scene = load_scene(path)
        assert scene.name == path.stem
        assert scene.objects


@pytest.mark.parametrize("suffix", [".yaml", ".json"])
def test_round_trip(tmp_path, suffix):
    scene = load_scene(SCENES[0])
    again = load_scene(scene.save(tmp_path / f"s{suffix}"))
    assert again == scene
    assert Scene.from_dict(scene.to_dict()) == scene


def _error(mutate) -> str:
    data = copy.deepcopy(BASE)
    mutate(data)
    with pytest.raises(SceneError) as info:
        Scene.from_dict(data)
    return str(info.value)


def test_pose_length_error_names_the_field():
    msg = _error(lambda d: d["objects"][2].update(pose=[0, 0, 0, 0, 0, 1]))
    assert msg == "objects[2].pose: expected 7 numbers, got 6"


@pytest.mark.parametrize("mutate, fragment", [
    (lambda d: d["objects"][1].update(category="spaceship"), "objects[1].category: unknown category 'spaceship'"),
    (lambda d: d["objects"][0].update(asset="can_huge"), "objects[0].asset: unknown asset 'can_huge'"),
    (lambda d: d["objects"][0].update(asset="box_small"), "objects[0].asset: asset 'box_small' is a 'box'"),
    (lambda d: d["objects"][1].update(mass=-0.1), "objects[1].mass: must be positive, got -0.1"),
    (lambda d: d["objects"][2].update(name="a"), "objects[2].name: duplicate name 'a'"),
    (lambda d: d["objects"][0].update(pose=[0, 0, 0, 0, 0, 0, 2]), "objects[0].pose: quaternion"),
    (lambda d: d["objects"][0].update(scale=[1, 0, 1]), "objects[0].scale[1]: must be positive"),
    (lambda d: d["objects"][0].update(color=[1, 0, 0]), "objects[0].color: expected 4 numbers, got 3"),
    (lambda d: d["objects"][0].update(role="boss"), "objects[0].role: unknown role 'boss'"),
    (lambda d: d["objects"][0].update(shiny=True), "objects[0].shiny: unknown field"),
    (lambda d: d["robot"].update(name="r2d2"), "robot.name: unknown robot 'r2d2'"),
    (lambda d: d.update(table={"size": [1, 1, -0.05]}), "table.size[2]: must be positive"),
    (lambda d: d.update(table={"texture": "velvet"}), "table.texture: unknown texture 'velvet'"),
    (lambda d: d.update(cameras={"stereo": {"width": 0}}), "cameras.stereo.width: expected a positive integer"),
    (lambda d: d.update(cameras={"stereo": {"position": [1, 0, 1], "look_at": [1, 0, 1]}}),
     "cameras.stereo.look_at: must differ from position"),
    (lambda d: d.pop("name"), "name: expected a non-empty string"),
])
def test_validation_errors(mutate, fragment):
    assert fragment in _error(mutate)


def test_missing_and_malformed_files(tmp_path):
    with pytest.raises(SceneError, match="scene file not found"):
        load_scene(tmp_path / "nope.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: [unclosed")
    with pytest.raises(SceneError, match=r"bad.yaml:1:\d+: invalid YAML"):
        load_scene(bad)
    with pytest.raises(SceneError, match="scene files end in"):
        load_scene(bad.rename(tmp_path / "bad.txt"))


def test_scene_with_a_camera_pose_round_trips(tmp_path):
    """to_dict() writes the unused placement fields as null; from_dict must read them back."""
    from dexsim_sim.tasks.grasp import GraspTask
    from dexsim_sim.world.scene import Scene, load_scene

    data = load_scene(GraspTask.scene_path("wx250s")).to_dict()
    data["cameras"]["stereo"] = {"pose": [0.9, 0.0, 0.6, 0.0, 0.0, 0.0, 1.0]}
    scene = Scene.from_dict(data)
    again = load_scene(scene.save(tmp_path / "s.yaml"))
    assert again == scene
    assert again.cameras["stereo"].pose == (0.9, 0.0, 0.6, 0.0, 0.0, 0.0, 1.0)
