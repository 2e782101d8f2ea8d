import numpy as np
import pytest

from dexsim_policy.errors import SafetyError
from dexsim_policy.safety import SafetyFilter, SafetyLimits

N = 6
LIMITS = SafetyLimits(lower=(-2.0, -1.5, -2.5, -3.0, -1.8, -3.1), upper=(2.0, 1.5, 0.5, 3.0, 1.8, 3.1),
                      max_velocity=(1.0, 1.0, 1.5, 2.0, 2.0, 3.0), max_acceleration=(2.0, 2.0, 3.0, 4.0, 4.0, 6.0),
                      workspace_min=(0.0, -0.25, 0.05), workspace_max=(0.6, 0.25, 0.6))


def fk(q):
    """Toy 2-link reach (m): enough to leave the box for some joint values."""
    r = 0.2 + 0.15 * np.cos(q[1])
    return np.array([0.25 + r * np.cos(q[0]), r * np.sin(q[0]), 0.3 + 0.3 * np.sin(q[1])])


GARBAGE = (np.nan, np.inf, -np.inf, 1e9, -1e9, 1e300, 0.0, -0.0, 1e-300)


def _random_command(rng):
    k = int(rng.integers(1, 12))
    kind = rng.integers(0, 4)
    if kind == 0:  # plausible small motion
        times = np.cumsum(rng.uniform(0.02, 0.5, k))
        pos = LIMITS_MID + rng.normal(0, 0.3, (k, N))
    elif kind == 1:  # wild jumps and tiny dt
        times = np.cumsum(rng.uniform(1e-6, 0.05, k))
        pos = rng.uniform(-10, 10, (k, N))
    elif kind == 2:  # raw garbage sprinkled in
        times = np.cumsum(rng.uniform(0.01, 1.0, k))
        pos = rng.normal(0, 3, (k, N))
        mask = rng.random((k, N)) < 0.2
        pos[mask] = rng.choice(GARBAGE, mask.sum())
        if rng.random() < 0.3:
            times[rng.integers(0, k)] = rng.choice(GARBAGE)
    else:  # huge magnitudes, possibly unsorted times
        times = rng.uniform(-1, 1e3, k)
        pos = rng.choice([1e9, -1e9, 5.0, -5.0, 0.1], (k, N))
    q0 = np.clip(LIMITS_MID + rng.normal(0, 0.5, N), LIMITS_LO - 0.2, LIMITS_HI + 0.2)
    v0 = rng.normal(0, 0.3, N) if rng.random() < 0.5 else None
    return q0, times, pos, v0


LIMITS_LO, LIMITS_HI = np.array(LIMITS.lower), np.array(LIMITS.upper)
LIMITS_MID = (LIMITS_LO + LIMITS_HI) / 2 + np.array([0, 0.3, 0, 0, 0, 0])


@pytest.mark.parametrize("mode", ["clip", "retime"])
def test_fuzzed_commands_never_leave_limits(mode):
    filt = SafetyFilter(LIMITS, fk=fk, mode=mode)
    rng = np.random.default_rng(1234)
    accepted = 0
    for _ in range(400):
        q0, times, pos, v0 = _random_command(rng)
        out, report = filt.filter_trajectory(q0, times, pos, v0)
        assert out.shape == (report.n_output, N) and report.times.shape == (report.n_output,)
        if report.n_output == 0:
            assert not report.accepted and report.refused_reason
            continue
        accepted += 1
        assert np.all(np.isfinite(out)) and np.all(np.isfinite(report.times))
        assert np.all(out >= LIMITS_LO) and np.all(out <= LIMITS_HI)
        violations = filt.check(q0, report.times, out, v0)
        assert not any(violations.values()), violations
    assert accepted > 100  # the fuzz exercised the clipping paths, not only refusals


def test_nan_refuses_whole_command_and_clean_command_passes_unchanged():
    filt = SafetyFilter(LIMITS, fk=fk)
    q0 = LIMITS_MID.copy()
    times = np.array([0.5, 1.0, 1.5])
    pos = q0 + np.array([[0.05], [0.1], [0.15]]) * np.array([1, 0, 0, 1, 1, 1])
    out, report = filt.filter_trajectory(q0, times, pos)
    np.testing.assert_allclose(out, pos, atol=1e-12)
    assert report.accepted and not report.modified
    pos[1, 2] = np.nan
    out, report = filt.filter_trajectory(q0, times, pos)
    assert out.shape == (0, N) and report.violations["non_finite"] == 1 and not report.accepted
    out, report = filt.filter_trajectory(q0, [1.0, 0.5, 2.0], np.tile(q0, (3, 1)))
    assert report.violations["bad_times"] == 1 and out.shape == (0, N)


def test_violations_are_counted_by_kind():
    filt = SafetyFilter(LIMITS, fk=fk)
    q0 = LIMITS_MID.copy()
    far = q0.copy()
    far[3] = 100.0  # beyond the position limit and far too fast
    out, report = filt.filter_trajectory(q0, [0.1, 0.2], [far, far])
    assert report.violations["position"] == 2 and report.violations["velocity"] >= 1
    assert out[-1, 3] <= 2.0 * 0.2 + q0[3] + 1e-9  # accel-limited from rest
    step = q0.copy()
    step[0] += 0.09  # within velocity (0.9 rad/s) but needs 9 rad/s^2 from rest
    _, report = filt.filter_trajectory(q0, [0.1], [step])
    assert report.violations["acceleration"] == 1 and report.violations["velocity"] == 0


def test_workspace_truncate_and_refuse():
    q0 = np.zeros(N)
    q0[1] = 0.3
    times = np.arange(1, 41) * 0.1
    pos = np.tile(q0, (40, 1))
    pos[:, 1] = np.linspace(0.3, -1.4, 40)  # end effector dips below the box floor (z < 0.05)
    out, report = SafetyFilter(LIMITS, fk=fk).filter_trajectory(q0, times, pos)
    assert 0 < report.n_output < 40 and report.violations["workspace"] == 1
    assert all(fk(q)[2] >= 0.05 for q in out)
    out, report = SafetyFilter(LIMITS, fk=fk, workspace_mode="refuse").filter_trajectory(q0, times, pos)
    assert out.shape == (0, N) and report.refused_reason.startswith("end effector")


def batched_fk(q):
    """``fk`` over (K, n) rows at once (as the robot's chain FK is called by the commander)."""
    q = np.asarray(q, dtype=float)
    return np.stack([fk(row) for row in q]) if q.ndim == 2 else fk(q)


@pytest.mark.parametrize("workspace_mode", ["truncate", "refuse"])
def test_batched_workspace_check_matches_per_point(workspace_mode):
    """One batched FK call per trajectory gives the same points and the same report as the
    per-point check, on fuzzed commands and on ones that leave the box."""
    rng = np.random.default_rng(7)
    per_point = SafetyFilter(LIMITS, fk=fk, workspace_mode=workspace_mode)
    batched = SafetyFilter(LIMITS, fk=batched_fk, workspace_mode=workspace_mode, batched_fk=True)
    left = 0
    for _ in range(300):
        q0, times, pos, v0 = _random_command(rng)
        with np.errstate(all="ignore"):
            a_out, a = per_point.filter_trajectory(q0, times, pos, v0)
            b_out, b = batched.filter_trajectory(q0, times, pos, v0)
        np.testing.assert_array_equal(a_out, b_out)
        assert a.as_dict() == b.as_dict()
        np.testing.assert_array_equal(a.times, b.times)
        left += a.violations["workspace"]
    assert left > 0     # the fuzz reached the workspace branch


def test_gripper_and_config_errors():
    filt = SafetyFilter(LIMITS, fk=fk)
    assert filt.filter_gripper(1.7)[0] == 1.0 and filt.filter_gripper(0.3)[0] == 0.3
    value, report = filt.filter_gripper(np.nan)
    assert value is None and report.violations["non_finite"] == 1
    with pytest.raises(SafetyError, match="lower"):
        SafetyLimits(lower=(1.0,), upper=(0.0,), max_velocity=(1.0,), max_acceleration=(1.0,))
    with pytest.raises(SafetyError, match="max_velocity"):
        SafetyLimits(lower=(0.0,), upper=(1.0,), max_velocity=(0.0,), max_acceleration=(1.0,))
    with pytest.raises(SafetyError, match="fk"):
        SafetyFilter(LIMITS)
    with pytest.raises(SafetyError, match="positions"):
        filt.filter_trajectory(np.zeros(N), [1.0], np.zeros((1, N + 1)))
