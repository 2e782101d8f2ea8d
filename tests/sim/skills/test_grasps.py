"""Antipodal grasp sampling: opposite normals, widths within the stroke, valid frames, seeded."""
from __future__ import annotations

import math

import numpy as np
import pybullet as p
import pytest

from dexsim_sim.robots.transforms import make_transform, rpy_to_matrix
from dexsim_sim.skills.grasps import (GraspSamplerConfig, sample_body_grasps, sample_box_grasps,
                                      sample_cylinder_grasps, sample_sphere_grasps)

STROKE = 0.085
CONFIG = GraspSamplerConfig(num_candidates=40, max_width=STROKE, seed=4)
POSE = make_transform(rpy_to_matrix((0.3, -0.2, 0.9)), (0.5, 0.1, 0.05))
ANTIPODAL_COS = math.cos(math.atan(CONFIG.friction_coefficient))


def _check(grasps, min_count: int) -> None:
    assert len(grasps) >= min_count
    scores = [g.score for g in grasps]
    assert scores == sorted(scores, reverse=True)
    for g in grasps:
        assert 0.0 < g.width <= STROKE
        line = (g.contacts[1] - g.contacts[0]) / g.width
        # Antipodal: each outward normal inside the friction cone about the closing line, so the
        # two normals are opposite within twice the cone angle.
        assert -g.normals[0] @ line >= ANTIPODAL_COS - 1e-9 and g.normals[1] @ line >= ANTIPODAL_COS - 1e-9
        assert float(g.normals[0] @ g.normals[1]) <= -math.cos(2 * math.atan(CONFIG.friction_coefficient)) + 1e-9
        rot = g.pose[:3, :3]
        np.testing.assert_allclose(rot.T @ rot, np.eye(3), atol=1e-9)
        assert np.linalg.det(rot) == pytest.approx(1.0)
        np.testing.assert_allclose(g.pose[:3, 3], g.contacts.mean(axis=0), atol=1e-9)
        closing = (g.contacts[0] - g.contacts[1]) / g.width
        np.testing.assert_allclose(rot[:, 1], closing, atol=1e-9)      # fingers close along y
        assert abs(rot[:, 0] @ closing) < 1e-9                         # approach perpendicular to closing


def test_box_grasps_are_antipodal_and_fit_the_stroke():
    size = (0.06, 0.2, 0.05)   # the 0.2 m side does not fit the gripper
    grasps = sample_box_grasps(size, POSE, CONFIG)
    _check(grasps, 30)
    for g in grasps:
        np.testing.assert_allclose(g.normals[0], -g.normals[1], atol=1e-9)
        assert g.width == pytest.approx(0.06) or g.width == pytest.approx(0.05)


def test_cylinder_grasps_radial_and_axial():
    grasps = sample_cylinder_grasps(0.03, 0.12, POSE, CONFIG)   # only the 60 mm diameter fits
    _check(grasps, 30)
    assert all(g.width == pytest.approx(0.06) for g in grasps)
    axis = POSE[:3, 2]
    assert all(abs(g.pose[:3, 1] @ axis) < 1e-9 for g in grasps)   # closing across the axis
    flat = sample_cylinder_grasps(0.06, 0.04, POSE, CONFIG)       # only the 40 mm height fits
    assert flat and all(abs(abs(g.pose[:3, 1] @ axis) - 1.0) < 1e-9 for g in flat)


def test_sphere_and_too_large_objects():
    _check(sample_sphere_grasps(0.035, POSE, CONFIG), 30)
    assert sample_sphere_grasps(0.05, POSE, CONFIG) == []
    assert sample_box_grasps((0.2, 0.2, 0.2), POSE, CONFIG) == []


def test_top_down_is_preferred_and_sampling_is_seeded():
    grasps = sample_box_grasps((0.05, 0.05, 0.05), np.eye(4), CONFIG)
    assert grasps[0].pose[:3, 0] @ np.array([0.0, 0.0, -1.0]) > 0.9
    again = sample_box_grasps((0.05, 0.05, 0.05), np.eye(4), CONFIG)
    np.testing.assert_array_equal(np.stack([g.pose for g in grasps]), np.stack([g.pose for g in again]))


def test_ray_cast_grasps_on_a_pybullet_body_match_its_geometry():
    client = p.connect(p.DIRECT)
    try:
        shape = p.createCollisionShape(p.GEOM_CYLINDER, radius=0.025, height=0.1, physicsClientId=client)
        body = p.createMultiBody(0.1, shape, basePosition=[0.4, 0.0, 0.05], physicsClientId=client)
        grasps = sample_body_grasps(client, body, GraspSamplerConfig(num_candidates=200, seed=2))
        _check(grasps, 5)
        for g in grasps:   # chords of the 50 mm circle within the cone (axial would be 100 mm: too wide)
            assert 0.05 * ANTIPODAL_COS - 1e-3 <= g.width <= 0.05 / ANTIPODAL_COS + 1e-3
            radial = np.linalg.norm(g.contacts[:, :2] - [0.4, 0.0], axis=1)
            np.testing.assert_allclose(radial, 0.025, atol=1.5e-3)
    finally:
        p.disconnect(client)


def test_config_validation_names_the_field():
    with pytest.raises(ValueError, match="friction_coefficient"):
        GraspSamplerConfig(friction_coefficient=0.0)
    with pytest.raises(ValueError, match="preferred_approach"):
        GraspSamplerConfig(preferred_approach=(0.0, 0.0, 2.0))
