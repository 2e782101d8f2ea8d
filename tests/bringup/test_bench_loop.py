"""`dexsim bench loop`: the sim node and the policy node (shipped demo checkpoint) as processes;
the sim's real-time factor alone and with the policy driving the arm, from one run."""
import pytest

from dexsim_bringup.bench_loop import bench_loop

pytestmark = pytest.mark.ros


def test_closed_loop_reports_both_real_time_factors_and_the_policy_drives():
    out = bench_loop(seconds=3.0, image_size=(48, 64))
    assert out["rtf_sim_only"] > 0 and out["rtf_closed_loop"] > 0
    assert out["rtf_ratio"] == pytest.approx(out["rtf_closed_loop"] / out["rtf_sim_only"])
    assert out["goals_per_sim_s"] > 0                   # the policy sent goals while the sim ran
    assert out["policy_inference_ms"] > 0 and out["policy_stale_events"] == 0
