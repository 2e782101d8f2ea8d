"""`dexsim doctor` reports the environment and names what is broken."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

DEXSIM = [sys.executable, "-m", "dexsim_bringup.cli"]


def _doctor(env_overrides: dict[str, str | None]):
    env = dict(os.environ)
    for k, v in env_overrides.items():
        if v is None:
            env.pop(k, None)
        else:
            env[k] = v
    out = subprocess.run(DEXSIM + ["doctor", "--json"], capture_output=True, text=True, env=env, timeout=180)
    report = json.loads(out.stdout)
    return out.returncode, {c["name"]: c for c in report["checks"]}, report


@pytest.mark.ros
def test_doctor_passes_dds_checks_on_this_environment():
    code, checks, report = _doctor({"FASTDDS_DEFAULT_PROFILES_FILE": None})
    for name in ("python", "python_packages", "rmw", "dds_profile", "interfaces", "dds_roundtrip", "torch"):
        assert checks[name]["status"] == "pass", checks[name]
    assert checks["egl_rendering"]["status"] in ("pass", "warn")
    assert code == (0 if report["ok"] else 1)


def test_doctor_names_a_missing_profile(tmp_path):
    missing = tmp_path / "gone.xml"
    code, checks, _ = _doctor({"FASTDDS_DEFAULT_PROFILES_FILE": str(missing)})
    assert code == 1
    assert checks["dds_profile"]["status"] == "fail"
    assert str(missing) in checks["dds_profile"]["detail"]
    assert checks["dds_roundtrip"]["status"] == "fail"  # not attempted on a broken profile


def test_doctor_names_a_non_loopback_profile(tmp_path, repo_root):
    src = (repo_root / "dexsim_bringup/dexsim_bringup/resources/fastdds_loopback.xml").read_text()
    bad = tmp_path / "open.xml"
    bad.write_text(src.replace("<useBuiltinTransports>false</useBuiltinTransports>", ""))
    code, checks, _ = _doctor({"FASTDDS_DEFAULT_PROFILES_FILE": str(bad)})
    assert code == 1 and "useBuiltinTransports" in checks["dds_profile"]["detail"]


def test_every_verb_has_help():
    from dexsim_bringup.cli import build_parser

    parser = build_parser()
    verbs = parser._subparsers._group_actions[0].choices  # noqa: SLF001 - argparse has no public accessor
    assert "doctor" in verbs
    for verb in verbs:
        out = subprocess.run(DEXSIM + [verb, "--help"], capture_output=True, text=True, timeout=60)
        assert out.returncode == 0, (verb, out.stderr)
        assert "usage: dexsim " + verb in out.stdout
