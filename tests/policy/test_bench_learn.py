"""`dexsim bench learn` on the tiny synthetic dataset: one point per demonstration count, a PNG, and
a rerun that continues from what is on disk instead of training again (learning itself is measured
by the full benchmark, not here)."""
import json

from dexsim_policy.bench_learn import PLOT_FILE, RESULT_FILE, bench_learn


def test_bench_learn_reports_each_count_and_resumes(tiny_dataset, tmp_path):
    kw = dict(data=tiny_dataset, robot="sr3", demos=(3, 2), episodes=1, steps=2, image_size=(48, 64), progress=False)
    out = bench_learn(tmp_path, **kw)
    assert [p["demos"] for p in out["points"]] == [2, 3]
    for p in out["points"]:
        assert p["episodes"] == 1 and 0 <= p["ci95"][0] <= p["success_rate"] <= p["ci95"][1] <= 1
        assert p["train_wall_s"] > 0 and p["train_samples_per_s"] > 0 and p["steps"] == 2
    assert (tmp_path / PLOT_FILE).stat().st_size > 0
    marker = tmp_path / "act_2" / RESULT_FILE
    saved = json.loads(marker.read_text())
    saved["train_wall_s"] = -1.0                        # a rerun must read this back, not retrain
    marker.write_text(json.dumps(saved))
    again = bench_learn(tmp_path, **kw)
    assert again["points"][0]["train_wall_s"] == -1.0
