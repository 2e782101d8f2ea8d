"""`dexsim generate`: prints the card summary; bad input is one clear line with exit code 2."""
from __future__ import annotations

from dexsim_bringup.cli import main
from dexsim_sim.datasets.hdf5 import validate_dataset
from dexsim_sim.world.scene import load_scene


def test_generate_verb_writes_a_dataset_and_prints_the_card(tmp_path, capsys):
    out = tmp_path / "ds"
    rc = main(["generate", "--robot", "wx250s", "--episodes", "1", "--out", str(out), "--image-size", "48x64",
               "--no-progress"])
    text = capsys.readouterr().out
    assert rc == 0
    assert "robot/task: wx250s/grasp" in text and "image size: 48x64" in text and "attempted" in text
    assert validate_dataset(out) in (0, 1)


def test_generate_verb_errors_are_one_line(tmp_path, capsys):
    cases = [(["--robot", "r2d2"], "robot: unknown robot 'r2d2'"),
             (["--task", "fly"], "task: unknown 'fly'"),
             (["--spec", str(tmp_path / "missing.yaml")], "spec: file not found"),
             (["--image-size", "64"], "--image-size: expected HxW")]
    for extra, message in cases:
        rc = main(["generate", "--episodes", "1", "--out", str(tmp_path / "x"), *extra])
        err = capsys.readouterr().err.strip().splitlines()
        assert rc == 2 and len(err) == 1 and message in err[0], err


def test_generate_scales_a_projected_demonstration_in_its_scene(tmp_path, capsys):
    """`dexsim project demo` keyposes + the scene they were projected with -> verified episodes
    of the demonstration's skill (the card records both)."""
    import json
    from pathlib import Path

    import dexsim_sim.demo_data

    assert main(["project", "demo", "--out", str(tmp_path / "demo")]) == 0
    keyposes = tmp_path / "demo" / "keyposes.json"
    scene = Path(dexsim_sim.demo_data.__file__).parent / "scene.yaml"
    out = tmp_path / "ds"
    capsys.readouterr()
    rc = main(["generate", "--robot", "wx250s", "--spec", "nominal/grasp", "--episodes", "1", "--out", str(out),
               "--image-size", "48x64", "--scene", str(scene), "--skill", str(keyposes), "--no-progress"])
    assert rc == 0 and "episodes: 1 written" in capsys.readouterr().out
    extra = json.loads((out / "card.json").read_text())["extra"]
    assert extra["scene_file"] == str(scene)
    labels = [k["label"] for k in extra["seed_skill"]["keyposes"]]
    assert "grasp" in labels and labels[-2:] == ["lift", "hold"]     # the demonstration, cut at the lift

    # a scene straight from `dexsim project scene` marks no target: the object the hand grasps is it
    assert main(["project", "scene", "--out", str(tmp_path / "scene")]) == 0
    projected = tmp_path / "scene" / "projected_scene.yaml"
    rc = main(["generate", "--robot", "wx250s", "--spec", "nominal/grasp", "--episodes", "1", "--out",
               str(tmp_path / "ds2"), "--image-size", "48x64", "--scene", str(projected), "--skill", str(keyposes),
               "--no-progress"])
    assert rc == 0
    used = json.loads((tmp_path / "ds2" / "card.json").read_text())["extra"]["scene_file"]
    assert used == str((tmp_path / "ds2" / "generation_scene.yaml").resolve())
    target = [o for o in load_scene(used).objects if o.role == "target"]
    assert [(o.name, o.category) for o in target] == [("target", "box")]


def test_generate_refuses_a_skill_it_cannot_use(tmp_path, capsys):
    joint_track = tmp_path / "trajectory.json"
    joint_track.write_text('{"joint_names": ["waist"], "times": [0.0], "positions": [[0.0]]}')
    rc = main(["generate", "--episodes", "1", "--out", str(tmp_path / "x"), "--skill", str(joint_track)])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2 and len(err) == 1 and "joint trajectory" in err[0] and "not supported yet" in err[0]
