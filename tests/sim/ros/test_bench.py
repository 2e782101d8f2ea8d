"""bench_sim reports every figure (values are speeds: no thresholds asserted)."""
from __future__ import annotations

import pytest

from dexsim_sim.bench import BenchError, bench_sim

pytestmark = pytest.mark.ros   # the rtf figure runs the real SimNode (DDS on the loopback profile)


def test_bench_sim_reports_every_figure():
    out = bench_sim(robot="wx250s", task="grasp", seconds=0.05, renderer="tiny")
    for key in ("physics_steps_per_s", "stereo_fps_640x512", "stereo_fps_320x256", "rtf_stereo_10hz"):
        assert out[key] > 0.0, key
    assert out["renderer"] == "tiny" and out["robot"] == "wx250s"


def test_bench_sim_rejects_bad_duration():
    with pytest.raises(BenchError, match="seconds"):
        bench_sim(seconds=0.0)
