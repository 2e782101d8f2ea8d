"""Closed-loop evaluation (in-process) and the `dexsim train` / `dexsim eval` verbs, on the tiny
synthetic dataset (robot sr3, task grasp): the pipeline runs end to end; no success is expected."""
import json

import pytest
import yaml

from dexsim_bringup.cli import main as dexsim
from dexsim_policy.evaluation import (EvaluationError, EpisodeOutcome, eval_seed, evaluate_in_process, summarize,
                                      wilson_interval)


def test_wilson_interval_known_values():
    assert wilson_interval(0, 0) == (0.0, 1.0)
    lo, hi = wilson_interval(0, 10)
    assert lo == 0.0 and hi == pytest.approx(0.2775, abs=1e-4)
    lo, hi = wilson_interval(5, 10)
    assert (lo, hi) == (pytest.approx(0.2366, abs=1e-4), pytest.approx(0.7634, abs=1e-4))
    lo, hi = wilson_interval(10, 10)
    assert lo == pytest.approx(0.7225, abs=1e-4) and hi == pytest.approx(1.0)


def test_summarize_per_condition_and_unrated():
    outs = [EpisodeOutcome("nominal", 1, True, 5), EpisodeOutcome("nominal", 2, False, 9),
            EpisodeOutcome("dr", 1, None, 0)]
    s = summarize(outs, mode="x")
    assert s["conditions"]["nominal"]["success_rate"] == 0.5 and s["conditions"]["nominal"]["rated"] == 2
    assert s["conditions"]["dr"]["success_rate"] is None and s["conditions"]["dr"]["episodes"] == 1
    assert s["mode"] == "x" and len(s["episodes"]) == 3


@pytest.fixture(scope="module")
def run_dir(tiny_dataset, tmp_path_factory):
    import torch

    torch.set_num_threads(1)
    out = tmp_path_factory.mktemp("run") / "act"
    code = dexsim(["train", "--data", str(tiny_dataset), "--policy", "act", "--out", str(out), "--steps", "4",
                   "--batch-size", "4", "--val-every", "2", "--device", "cpu", "--no-progress"])
    assert code == 0
    return out


def test_train_verb_writes_checkpoints_and_refuses_overwrite(run_dir, tiny_dataset, capsys):
    assert (run_dir / "best" / "policy.json").is_file() and (run_dir / "loss_curve.png").is_file()
    assert dexsim(["train", "--data", str(tiny_dataset), "--policy", "act", "--out", str(run_dir)]) == 2
    assert "--resume" in capsys.readouterr().err
    code = dexsim(["train", "--data", str(tiny_dataset), "--policy", "act", "--out", str(run_dir), "--steps", "6",
                   "--batch-size", "4", "--val-every", "2", "--resume", "--no-progress", "--json"])
    assert code == 0
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert summary["start_step"] == 4 and summary["steps"] == 6


def test_evaluate_in_process_runs_dr_conditions(run_dir, tmp_path):
    spec = {"name": "light_only", "task": "grasp", "version": 1, "factors": [
        {"name": "light_intensity", "param": "light_intensity", "kind": "AI", "distribution": "uniform",
         "nominal": 1.0, "low": 0.5, "high": 1.5}]}
    path = tmp_path / "spec.yaml"
    path.write_text(yaml.safe_dump(spec))
    r = evaluate_in_process(run_dir / "best", episodes=1, spec=path, per_factor=True, episode_s=0.3, renderer="tiny")
    assert r["robot"] == "sr3" and r["task"] == "grasp" and r["image_size"] == [48, 64]
    assert list(r["conditions"]) == ["nominal", "dr", "dr:light_intensity"]
    for c in r["conditions"].values():
        assert c["episodes"] == c["rated"] == 1 and 0 <= c["ci95"][0] <= c["ci95"][1] <= 1
    assert [e["seed"] for e in r["episodes"]] == [eval_seed(0, 0)] * 3
    assert "dr_sample" in r["episodes"][1]["info"] and "dr_sample" not in r["episodes"][0]["info"]
    # 0.3 s of sim time: an observation at 0, 0.1 and 0.2 s -> 3 commands per condition; 30 ticks of 100 Hz
    assert r["safety"]["commands"] == 9 and r["episodes"][0]["steps"] == 30


def test_eval_verb_in_process_json(run_dir, capsys):
    code = dexsim(["eval", "--checkpoint", str(run_dir), "--episodes", "1", "--episode-s", "0.2", "--in-process",
                   "--json"])
    assert code == 0
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert result["mode"] == "in_process" and result["conditions"]["nominal"]["episodes"] == 1


def test_eval_errors_are_named(run_dir, tmp_path, capsys):
    assert dexsim(["eval", "--checkpoint", str(tmp_path), "--in-process"]) == 2
    assert "policy.json" in capsys.readouterr().err
    with pytest.raises(EvaluationError, match="episodes"):
        evaluate_in_process(run_dir / "best", episodes=0)
    wrong = {"name": "x", "task": "open_box", "version": 1, "factors": []}
    (tmp_path / "w.yaml").write_text(yaml.safe_dump(wrong))
    with pytest.raises(EvaluationError, match="open_box"):
        evaluate_in_process(run_dir / "best", episodes=1, spec=tmp_path / "w.yaml", episode_s=0.1)


def test_verbs_are_listed_in_help():
    from dexsim_bringup.cli import build_parser

    text = build_parser().format_help()
    assert "train" in text and "eval" in text


def test_episode_budget_follows_the_datasets_demonstrations(tmp_path):
    """8 s, or 1.5 x the mean demonstration when that is longer (open_box's take about 7 s)."""
    from dexsim_policy.checkpoint import CHECKPOINT_FORMAT, CHECKPOINT_VERSION, META_FILE
    from dexsim_policy.evaluation import DEFAULT_EPISODE_S, default_episode_s

    def ckpt(name, steps, episodes):
        d = tmp_path / name
        d.mkdir()
        meta = {"format": CHECKPOINT_FORMAT, "version": CHECKPOINT_VERSION,
                "dataset_info": {"num_steps": steps, "num_episodes": episodes}}
        (d / META_FILE).write_text(json.dumps(meta))
        return d

    assert default_episode_s(ckpt("grasp", 8235, 200)) == DEFAULT_EPISODE_S          # 4.1 s demonstrations
    assert default_episode_s(ckpt("box", 9353, 134)) == pytest.approx(1.5 * 6.98, abs=0.01)
    assert default_episode_s(ckpt("unknown", 0, 0)) == DEFAULT_EPISODE_S
