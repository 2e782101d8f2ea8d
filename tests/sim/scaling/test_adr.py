"""ADR: widens on success, narrows on failure, respects hard limits and nominal, is deterministic
and resumable, and converges to the region where a synthetic task succeeds."""
from __future__ import annotations

import json

import pytest

from dexsim_sim.scaling.adr import ADR, ADRConfig, ADRError, ADRState
from dexsim_sim.scaling.dr import DRSpec, load_dr_spec

FOV_LIMIT = 1.08   # the synthetic task fails when the focal scale exceeds this


def _spec() -> DRSpec:
    return load_dr_spec("grasp").subset(["camera_fov", "object_shift", "table_texture", "distractors"])


def feedback(result: dict) -> bool:
    """Episode result -> success (as the data generator's verified success would be)."""
    return result["success"]


def _run(adr: ADR, seeds: range, success) -> None:
    for seed in seeds:
        s = adr.sample(seed)
        assert adr.report(s, {"success": success(s)}) == success(s)


def test_widens_on_success_up_to_hard_limits():
    spec = _spec()
    adr = ADR(spec, ADRConfig(p_boundary=1.0, buffer_size=4, delta=0.3), feedback=feedback)
    assert adr.current_ranges()["camera_fov"] == {"low": [1.0], "high": [1.0]}
    _run(adr, range(400), lambda s: True)
    assert adr.state.extents == {"camera_fov": [1.0, 1.0], "object_shift": [1.0, 1.0],
                                 "table_texture": [0.0, 1.0], "distractors": [0.0, 1.0]}
    r = adr.current_ranges()
    assert r["camera_fov"]["low"] == pytest.approx([0.87]) and r["camera_fov"]["high"] == pytest.approx([1.15])
    assert r["table_texture"]["p_random"] == 1.0
    assert all(0.0 <= e <= 1.0 for ext in (h["extents"] for h in adr.state.history) for v in ext.values() for e in v)
    assert adr.state.iteration == 400


def test_narrows_on_failure_down_to_nominal():
    spec = _spec()
    full = ADRState(extents={n: [1.0, 1.0] for n in spec.factor_names}, buffers={})
    adr = ADR(spec, ADRConfig(p_boundary=1.0, buffer_size=3, delta=0.25), feedback, state=full)
    _run(adr, range(600), lambda s: False)
    assert adr.state.extents["camera_fov"] == [0.0, 0.0] and adr.state.extents["object_shift"] == [0.0, 0.0]
    assert adr.state.extents["distractors"][1] == 0.0
    # Only the pinned boundary may differ from nominal now; unpinned factors sample nominal.
    s = adr.sample(10_000)
    if s.boundary != "camera_fov:low" and s.boundary != "camera_fov:high":
        assert s.values["camera_fov"] == 1.0
    assert adr.sample(10_001).values["object_shift"]["target"] == [0.0, 0.0]


def test_adr_finds_the_limit_of_a_synthetic_task():
    spec = load_dr_spec("grasp").subset(["camera_fov"])
    adr = ADR(spec, ADRConfig(p_boundary=0.5, buffer_size=10, t_low=0.4, t_high=0.8, delta=0.1), feedback)
    _run(adr, range(3000), lambda s: s.values["camera_fov"] <= FOV_LIMIT)
    r = adr.current_ranges()["camera_fov"]
    assert r["low"] == pytest.approx([0.87])                       # never hurts: widened fully
    assert FOV_LIMIT - 0.03 <= r["high"][0] <= FOV_LIMIT + 0.02     # stops near where the task breaks
    changes = [h["change"] for h in adr.state.history if h["change"]]
    assert any(c["rate"] <= 0.4 for c in changes)                  # it did narrow at some point


def test_deterministic_and_resumable(tmp_path):
    spec = _spec()
    cfg = ADRConfig(p_boundary=0.7, buffer_size=3, delta=0.2)
    succ = lambda s: s.values["camera_fov"] < 1.1 and len(s.values["distractors"]) < 3   # noqa: E731
    a, b = ADR(spec, cfg, feedback), ADR(spec, cfg, feedback)
    _run(a, range(300), succ)
    _run(b, range(150), succ)
    b.save(tmp_path / "adr.json")
    c = ADR.load(tmp_path / "adr.json", feedback)
    assert c.spec == spec and c.config == cfg
    _run(c, range(150, 300), succ)
    assert json.dumps(c.to_dict()) == json.dumps(a.to_dict())
    assert len(a.state.history) > 3
    assert a.sample(7) == c.sample(7)


def test_no_boundary_episodes_leave_ranges_alone():
    adr = ADR(_spec(), ADRConfig(p_boundary=0.0, buffer_size=1), feedback)
    _run(adr, range(50), lambda s: True)
    assert all(e == [0.0, 0.0] for e in adr.state.extents.values()) and len(adr.state.history) == 1


def test_plot_history_writes_png(tmp_path):
    adr = ADR(_spec(), ADRConfig(p_boundary=1.0, buffer_size=2, delta=0.2), feedback)
    _run(adr, range(60), lambda s: True)
    out = adr.plot_history(tmp_path / "adr.png")
    data = out.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 2000


@pytest.mark.parametrize("kwargs, message", [
    ({"p_boundary": 1.5}, "p_boundary"), ({"buffer_size": 0}, "buffer_size"),
    ({"t_low": 0.9, "t_high": 0.8}, "t_low/t_high"), ({"delta": 0.0}, "delta"),
])
def test_config_validation(kwargs, message):
    with pytest.raises(ADRError, match=message):
        ADRConfig(**kwargs)


def test_report_rejects_unknown_boundary():
    adr = ADR(_spec())
    s = adr.sample(0)
    bad = type(s)(**{**s.__dict__, "boundary": "light_distance:high"})
    with pytest.raises(ADRError, match="light_distance:high"):
        adr.report_success(bad, True)
    with pytest.raises(ADRError, match="feedback: no callable"):
        adr.report(s, {"success": True})
