"""`dexsim calibrate hand-eye`: simulated captures -> a calibrated robot config; the saved
captures give the same pose through --captures; bad input is one line, exit 2, nothing written."""
from __future__ import annotations

import json
import shutil

import numpy as np
import yaml

from dexsim_bringup.cli import main
from dexsim_bringup.hardware import config_path, load_robot_config


def test_sim_calibration_writes_the_config_and_captures_reproduce_it(tmp_path, capsys):
    cfg = tmp_path / "wx250s.yaml"
    shutil.copy(config_path("wx250s"), cfg)
    caps = tmp_path / "caps.npz"
    assert main(["calibrate", "hand-eye", "--robot", "wx250s", "--sim", "--poses", "10", "--save-captures",
                 str(caps), "--config", str(cfg), "--json"]) == 0
    out = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert out["error_mm"] < 5.0 and out["error_deg"] < 0.5
    loaded = load_robot_config("wx250s", cfg)
    assert loaded.hand_eye.calibrated
    np.testing.assert_allclose(loaded.hand_eye.pose, out["pose_in_base"], atol=1e-5)
    assert main(["calibrate", "hand-eye", "--robot", "wx250s", "--captures", str(caps), "--json"]) == 0
    again = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    np.testing.assert_allclose(again["pose_in_base"], out["pose_in_base"], atol=1e-9)


def test_bad_captures_are_one_line_and_write_nothing(tmp_path, capsys):
    cfg = tmp_path / "wx250s.yaml"
    shutil.copy(config_path("wx250s"), cfg)
    before = cfg.read_text()
    bad = tmp_path / "bad.npz"
    np.savez(bad, images=np.zeros((3, 8, 8, 3), np.uint8), joint_positions=np.zeros((3, 2)), K=np.eye(3))
    (tmp_path / "junk.npz").write_bytes(b"not a zip")
    cases = [(["--captures", str(tmp_path / "missing.npz")], "not a readable npz"),
             (["--captures", str(tmp_path / "junk.npz")], "not a readable npz"),
             (["--captures", str(bad)], "joint_positions must be (3, 6)")]
    for extra, message in cases:
        try:
            rc = main(["calibrate", "hand-eye", "--robot", "wx250s", *extra, "--config", str(cfg)])
        except SystemExit as exc:
            rc = exc.code
        err = capsys.readouterr().err.strip()
        assert rc == 2 and message in err and len(err.splitlines()) == 1, err
    assert cfg.read_text() == before and yaml.safe_load(before)
