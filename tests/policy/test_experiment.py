"""`dexsim experiment sim2real`: the config, the gap rows, and a tiny end-to-end run that must give a
complete, well-formed table and resume without redoing finished work (never the ordering: a few
training steps teach nothing)."""
from __future__ import annotations

import json

import pytest

from dexsim_policy.experiment import (COLUMNS, ExperimentConfig, ExperimentError, data_spec, gap_files,
                                      run_experiment)


def test_config_profiles_and_errors(tmp_path):
    quick = ExperimentConfig.from_dict({}, "quick")
    assert quick.trials == 5 and quick.demos < 10 and quick.columns == tuple(COLUMNS)
    assert ExperimentConfig().trials == 100 and ExperimentConfig().family("dexsim") == "pointcloud"
    with pytest.raises(ExperimentError, match="unknown field"):
        ExperimentConfig.from_dict({"trails": 3})
    with pytest.raises(ExperimentError, match="columns"):
        ExperimentConfig(columns=("skills_only", "magic"))
    with pytest.raises(ExperimentError, match="policies"):
        ExperimentConfig(policies={"dr": "gpt"})
    with pytest.raises(ExperimentError, match="trials"):
        ExperimentConfig(trials=0)
    path = tmp_path / "exp.yaml"
    path.write_text("robot: sr3\ntrials: 7\ngaps: [light]\n")
    cfg = ExperimentConfig.load(path, trials=9)
    assert (cfg.robot, cfg.trials, cfg.gaps) == ("sr3", 9, ("light",))


def test_the_ten_appendix_gaps_are_the_default_rows_and_data_recipes_differ_only_in_factors():
    rows = gap_files("grasp")
    assert len(rows) == 10 and {"light", "object_pose", "object_shape", "camera_fov"} <= set(rows)
    with pytest.raises(ExperimentError, match="neither a shipped gap"):
        gap_files("grasp", ("no_such_gap",))
    nominal, dr = data_spec("grasp", "nominal"), data_spec("grasp", "dr")
    assert nominal.factors == () and len(dr.factors) >= 10
    assert dr.skill_noise == nominal.skill_noise is not None     # the same noisy skill in both


def test_quick_run_gives_a_complete_table_and_resumes(tmp_path):
    cfg = ExperimentConfig.from_dict({"columns": ["skills_only", "dexsim"], "gaps": ["light"], "trials": 1,
                                      "demos": 2, "steps": 2, "workers": 1, "episode_s": 1.0}, "quick")
    out = tmp_path / "exp"
    report = run_experiment(cfg, out, progress=False)
    assert report["rows"] == ["nominal", "light"] and report["columns"] == ["skills_only", "dexsim"]
    assert report["families"] == {"skills_only": "act", "dexsim": "pointcloud"}
    for column in report["columns"]:
        for row in report["rows"]:
            cell = report["cells"][column][row]
            assert cell["trials"] == 1 and 0 <= cell["successes"] <= 1 and len(cell["ci95"]) == 2
            assert cell["seeds"] and cell["gap"] == (None if row == "nominal" else cell["gap"])
    assert report["cells"]["dexsim"]["light"]["gap"].endswith("gaps/grasp/light.yaml")
    table = (out / "table.md").read_text().splitlines()
    assert table[0].startswith("| domain gap | Skills only (act) | DexSim (pointcloud) |")
    assert [line.split("|")[1].strip() for line in table[2:4]] == ["nominal", "light"]
    assert all(line.count("/1 [") == 2 for line in table[2:4])
    assert (out / "table.png").stat().st_size > 1000
    assert json.loads((out / "results.json").read_text())["rows"] == ["nominal", "light"]

    # a killed run continues: finished cells, runs and datasets are kept, the missing cell is redone
    kept = {p: p.stat().st_mtime_ns for p in [*(out / "cells").glob("*.json"), *(out / "runs").glob("*/train_summary.json"),
                                             *(out / "data").glob("*/card.json")]}
    lost = out / "cells" / "dexsim__light.json"
    lost.unlink()
    again = run_experiment(cfg, out, progress=False)
    assert lost.is_file() and again["cells"]["dexsim"]["light"]["trials"] == 1
    assert all(p.stat().st_mtime_ns == t for p, t in kept.items() if p != lost)
