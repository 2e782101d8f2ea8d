"""Hand-eye calibration (eye-to-hand): exact recovery from exact poses, refusal of degenerate
motion, and the whole chain (rendered ArUco marker on the simulated arm, detection, PnP, solve)
within 5 mm / 0.5 degrees of the simulator's camera pose."""
from __future__ import annotations

import numpy as np
import pytest

from dexsim_sim.projection import hand_eye as he
from dexsim_sim.robots.transforms import axis_angle_to_matrix, make_transform


def _random_pose(rng, scale=0.5):
    axis = rng.normal(size=3)
    return make_transform(axis_angle_to_matrix(axis, rng.uniform(0, np.pi)), rng.uniform(-scale, scale, 3))


def test_exact_poses_give_the_exact_camera_and_marker():
    rng = np.random.default_rng(1)
    X, Y = _random_pose(rng, 1.0), _random_pose(rng, 0.1)
    E = [_random_pose(rng) for _ in range(8)]
    C = [np.linalg.inv(X) @ e @ Y for e in E]
    res = he.solve_eye_to_hand(E, C)
    np.testing.assert_allclose(res.base_to_optical, X, atol=1e-9)
    np.testing.assert_allclose(res.ee_to_marker, Y, atol=1e-9)
    assert res.residual_m < 1e-9 and res.residual_deg < 1e-6 and res.poses == 8


def test_degenerate_captures_are_refused():
    rng = np.random.default_rng(2)
    X, Y = _random_pose(rng), _random_pose(rng, 0.1)
    with pytest.raises(he.HandEyeError, match="at least"):
        he.solve_eye_to_hand([np.eye(4)] * 3, [np.eye(4)] * 3)
    # every pose a rotation about the same axis: the camera's position along it is not determined
    E = [make_transform(axis_angle_to_matrix([0, 0, 1], a), (0.1 * a, 0, 0)) for a in np.linspace(0, 2, 6)]
    C = [np.linalg.inv(X) @ e @ Y for e in E]
    with pytest.raises(he.HandEyeError, match="same axis"):
        he.solve_eye_to_hand(E, C)
    with pytest.raises(he.HandEyeError, match="3 arm poses but 2"):
        he.solve_eye_to_hand([np.eye(4)] * 3, [np.eye(4)] * 2)


def test_rendered_marker_calibration_recovers_the_sim_camera():
    base_to_ee, images, K, truth, Y, joints = he.simulated_captures("wx250s", poses=12, seed=0, renderer="tiny")
    assert len(images) == 12 and joints.shape == (12, 6)
    first = he.detect_marker(images[0], K, 0.06)
    assert first is not None and np.linalg.norm((truth @ first)[:3, 3] - (base_to_ee[0] @ Y)[:3, 3]) < 0.005
    res = he.calibrate(base_to_ee, images, K, 0.06)
    err_m, err_deg = he.pose_error(res.base_to_optical, truth)
    assert res.poses >= 10
    assert err_m < 0.005 and err_deg < 0.5, (err_m, err_deg)
    blank = [np.full_like(im, 200) for im in images]
    with pytest.raises(he.HandEyeError, match="in none of the 12 images"):
        he.calibrate(base_to_ee, blank, K, 0.06)
