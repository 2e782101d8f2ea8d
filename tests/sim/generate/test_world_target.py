"""WorldTarget: every DR factor changes what it should on the real world; reset_dr restores nominal."""
from __future__ import annotations

import numpy as np
import pybullet as p
import pytest

from dexsim_sim.scaling.dr import BACKGROUND_SURFACE, OBJECT_SURFACE_PREFIX, TABLE_SURFACE, DistractorSpec
from dexsim_sim.scaling.world_target import WorldTarget
from dexsim_sim.world.builder import World

SMALL = (48, 64)


@pytest.fixture(scope="module")
def target():
    from dexsim_sim.tasks.grasp import GraspTask

    world = World.build(GraspTask.scene_path("sr3"), renderer="tiny", image_size=SMALL)
    yield WorldTarget(world)
    world.close()


def _render(t: WorldTarget) -> dict:
    return t.world.render()


def _changed(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.mean(a.astype(float) != b.astype(float)))


def test_appearance_factors_change_images_and_reset_restores(target):
    target.reset_dr()
    nominal = _render(target)
    target_pixels = nominal["seg"] == target.world.object("target").body
    table_pixels = nominal["seg"] == target.world.table
    floor_pixels = nominal["seg"] == target.world.floor
    everywhere = np.ones_like(target_pixels)
    checks = [   # (factor, image, where it must change)
        (lambda: target.set_texture(TABLE_SURFACE, "checker"), "left_rgb", table_pixels),
        (lambda: target.set_texture(BACKGROUND_SURFACE, "stripes"), "left_rgb", floor_pixels),
        (lambda: target.set_texture(OBJECT_SURFACE_PREFIX + "target", "stripes"), "left_rgb", target_pixels),
        (lambda: target.set_light(3.0, (0.8, 0.9, 1.0), 0.5), "left_rgb", everywhere),
        (lambda: target.set_camera((0.05, 0.0, 0.05), (0.0, 0.0, 0.0), 1.0), "depth", everywhere),
        (lambda: target.set_camera((0.0, 0.0, 0.0), (0.0, 0.0, 0.0873), 1.0), "depth", everywhere),
        (lambda: target.set_camera((0.0, 0.0, 0.0), (0.0, 0.0, 0.0), 1.15), "depth", everywhere),
    ]
    assert target_pixels.sum() > 10 and table_pixels.sum() > 100 and floor_pixels.sum() > 10
    for k, (apply, key, where) in enumerate(checks):
        target.reset_dr()
        apply()
        assert _changed(_render(target)[key][where], nominal[key][where]) > 0.2, k
    target.reset_dr()
    assert np.array_equal(_render(target)["left_rgb"], nominal["left_rgb"])
    assert np.array_equal(_render(target)["depth"], nominal["depth"])


def test_focal_scale_narrows_the_field_of_view(target):
    target.reset_dr()
    fx = target.world.rig.fx
    target.set_camera((0.0, 0.0, 0.0), (0.0, 0.0, 0.0), 1.15)
    assert target.world.rig.fx == pytest.approx(1.15 * fx)
    target.reset_dr()
    assert target.world.rig.fx == pytest.approx(fx)


def test_distractors_are_added_without_overlap_and_removed(target):
    target.reset_dr()
    n_bodies = p.getNumBodies(physicsClientId=target.world.client)
    # one spot on top of the target: must be moved off it
    target.add_distractors([DistractorSpec("cup", (0.0, 0.0), 0.3), DistractorSpec("can", (0.1, -0.05), 1.0)])
    assert len(target.distractor_bodies) + target.skipped_distractors == 2
    assert len(target.distractor_bodies) >= 1
    target.world.step(24)
    for body in target.distractor_bodies:
        for name, handle in target.world.objects.items():
            assert not target.world.contacts(body, handle.body), name
    seg = _render(target)["seg"]
    assert any((seg == b).any() for b in target.distractor_bodies)
    target.reset_dr()
    assert p.getNumBodies(physicsClientId=target.world.client) == n_bodies
    assert target.distractor_bodies == []


def test_object_pose_scale_and_dynamics(target):
    target.reset_dr()
    ref = target.world.object_pose("target")
    body = target.world.object("target").body
    mass, friction = target.dynamics("target")
    target.set_object_pose_offset("target", (0.03, -0.02), 0.2)
    moved = target.world.object_pose("target")
    assert moved[:2] == pytest.approx(ref[:2] + np.array([0.03, -0.02]), abs=1e-9)
    yaw = 2.0 * np.arctan2(moved[5], moved[6])
    assert yaw == pytest.approx(0.2, abs=1e-6)
    lo0, hi0 = p.getAABB(body, physicsClientId=target.world.client)
    target.set_object_scale("target", (1.1, 1.1, 0.9))
    assert target.world.object("target").body == body          # same id: saved states still match
    lo1, hi1 = p.getAABB(body, physicsClientId=target.world.client)
    assert (hi1[2] - lo1[2]) == pytest.approx(0.9 * (hi0[2] - lo0[2]), rel=0.05)
    assert target.world.object_pose("target")[2] == pytest.approx(ref[2], abs=1e-6)   # still on the table
    target.set_dynamics("target", 1.3, 0.7)
    assert target.dynamics("target") == pytest.approx((1.3 * mass, 0.7 * friction))
    target.reset_dr()
    assert target.world.object_pose("target")[:3] == pytest.approx(ref[:3], abs=1e-9)
    assert target.dynamics("target") == pytest.approx((mass, friction))
    assert np.array_equal(target.world.object("target").scale, np.ones(3))


def test_reference_follows_capture(target):
    target.reset_dr()
    poses = {n: target.world.object_pose(n) for n in target.world.objects}
    poses["target"] = poses["target"] + np.array([0.02, 0.01, 0, 0, 0, 0, 0])
    target.world.reset_objects(poses)
    target.capture_reference()
    target.set_object_pose_offset("target", (0.0, 0.0), 0.0)
    assert target.world.object_pose("target")[:2] == pytest.approx(poses["target"][:2], abs=1e-9)
    target.world.reset_objects({o.name: np.asarray(o.pose) for o in target.world.scene.objects})
    target.capture_reference()
