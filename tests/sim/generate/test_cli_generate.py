"""`dexsim generate`: prints the card summary; bad input is one clear line with exit code 2."""
from __future__ import annotations

from dexsim_bringup.cli import main
from dexsim_sim.datasets.hdf5 import validate_dataset


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
