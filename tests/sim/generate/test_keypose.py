"""Keypose skills: object-frame capture, re-targeting after SA changes, execution success, replay."""
from __future__ import annotations

import numpy as np
import pytest

from dexsim_sim.env import DexSimEnv
from dexsim_sim.robots.transforms import pose_to_matrix
from dexsim_sim.scaling.world_target import WorldTarget
from dexsim_sim.skills.keypose import KeyposeSkill, SkillError, plan_joint_actions, skill_for_task
from dexsim_sim.skills.replay import replay_joint_trajectory, skill_from_keyposes


def _execute(env, plan) -> dict:
    info = {}
    for q, g in zip(plan.q, plan.gripper):
        _, _, _, _, info = env.step(np.concatenate([q, g]).astype(np.float32))
    return info


@pytest.mark.parametrize("robot", ["sr3", "wx250s"])
def test_grasp_skill_succeeds_after_sa_changes(robot):
    env = DexSimEnv(task="grasp", robot=robot, render_images=False)
    try:
        env.reset(seed=0)
        skill = KeyposeSkill.from_dict(skill_for_task(env.task).to_dict())     # JSON round trip
        assert [k.label for k in skill.keyposes] == ["pre_grasp", "grasp", "close", "lift", "hold"]
        target = WorldTarget(env.world)
        target.reset_dr()
        env.reset(seed=5)
        target.capture_reference()
        target.set_object_pose_offset("target", (0.03, -0.03), 0.25)
        target.set_object_scale("target", (1.05, 1.05, 0.95))
        env.world.step(24)
        plan = plan_joint_actions(env.world, skill)
        lo = [env.world.robot.spec.limits[j].lower for j in env.world.robot.spec.arm_joints]
        hi = [env.world.robot.spec.limits[j].upper for j in env.world.robot.spec.arm_joints]
        assert np.all(plan.q >= np.array(lo) - 1e-9) and np.all(plan.q <= np.array(hi) + 1e-9)
        info = _execute(env, plan)
        assert info["success"] is True, info
    finally:
        env.close()


def test_retarget_follows_the_object():
    env = DexSimEnv(task="grasp", robot="sr3", render_images=False)
    try:
        env.reset(seed=0)
        skill = skill_for_task(env.task)
        before = skill.retarget(env.world)
        target = WorldTarget(env.world)
        target.capture_reference()
        target.set_object_pose_offset("target", (0.04, 0.0), 0.0)
        after = skill.retarget(env.world)
        for a, b in zip(before, after):
            assert b[0][:3, 3] - a[0][:3, 3] == pytest.approx([0.04, 0.0, 0.0], abs=1e-6)
        target.set_object_pose_offset("target", (0.0, 0.0), 0.0)
        target.set_object_scale("target", (1.0, 1.0, 1.2))
        grasp_z = skill.retarget(env.world)[1][0][2, 3] - env.world.object_pose("target")[2]
        assert grasp_z == pytest.approx(1.2 * (before[1][0][2, 3] - env.world.object_pose("target")[2]), rel=1e-6)
        target.reset_dr()
    finally:
        env.close()


def test_unreachable_keypose_is_a_reasoned_failure():
    env = DexSimEnv(task="grasp", robot="wx250s", render_images=False)
    try:
        env.reset(seed=0)
        skill = skill_for_task(env.task)
        target = WorldTarget(env.world)
        target.capture_reference()
        target.set_object_pose_offset("target", (1.5, 0.0), 0.0)     # far beyond the 0.65 m reach
        with pytest.raises(SkillError) as exc:
            plan_joint_actions(env.world, skill)
        assert exc.value.reason == "unreachable"
        target.reset_dr()
    finally:
        env.close()


def test_replay_joint_trajectory_and_keyposes():
    env = DexSimEnv(task="grasp", robot="sr3", render_images=False)
    try:
        env.reset(seed=1)
        plan = plan_joint_actions(env.world, skill_for_task(env.task))
        times = np.arange(len(plan.q)) / 20.0                       # recorded at 20 Hz
        replay = replay_joint_trajectory(env.world, plan.q, plan.gripper, times, control_hz=10.0)
        assert len(replay.q) == pytest.approx(len(plan.q) / 2, abs=1)
        assert replay.q[-1] == pytest.approx(plan.q[-1])
        with pytest.raises(SkillError, match="leave their limits"):
            replay_joint_trajectory(env.world, plan.q + 10.0)
        with pytest.raises(SkillError, match="expected"):
            replay_joint_trajectory(env.world, plan.q[:, :3])

        # an end-effector demo in the base frame (as Real2Sim retargeting gives it)
        base_inv = np.linalg.inv(env.world.base_matrix())
        wps = env.task.oracle()
        from dexsim_sim.robots.transforms import matrix_to_pose

        poses = np.array([matrix_to_pose(base_inv @ pose_to_matrix(w.ee_poses[0])) for w in wps[:2] + wps[3:4]])
        spec = env.world.robot.spec

        class Demo:
            labels = ["approach", "grasp", "lift"]
            times = np.array([0.0, 1.2, 2.2])
            openings = np.array([spec.gripper_open, spec.gripper_closed, spec.gripper_closed])

        Demo.poses = poses
        skill = skill_from_keyposes(env.world, Demo, "target", "grasp")
        assert [k.label for k in skill.keyposes] == ["approach", "grasp", "grasp_close", "lift"]
        assert [k.gripper[0] for k in skill.keyposes] == [0.0, 0.0, 1.0, 1.0]
        info = _execute(env, plan_joint_actions(env.world, skill))
        assert info["lift_height"] > 0.05 and info["fingers_in_contact"]
    finally:
        env.close()


def test_open_box_plan_keeps_the_deployment_limits_and_still_opens():
    """Every 10 Hz step of a plan (where contact key poses meet included) stays within half the URDF
    velocity and PLAN_ACCELERATION, so a policy imitating it is not cut by the safety filter."""
    from dexsim_sim.skills.interpolation import step_limits
    from dexsim_sim.skills.keypose import PLAN_ACCELERATION, PLAN_VELOCITY_FRACTION, _within_limits

    env = DexSimEnv(task="open_box", robot="aubo_i5", render_images=False)
    try:
        env.reset(seed=3)
        spec = env.world.robot.spec
        vmax = np.array([spec.limits[j].velocity for j in spec.arm_joints]) * PLAN_VELOCITY_FRACTION
        q0, _ = env.world.joint_states()
        plan = plan_joint_actions(env.world, skill_for_task(env.task))
        v, a = step_limits(q0, plan.q, 0.1)
        assert np.all(np.abs(v) <= vmax + 1e-9) and np.abs(a).max() <= PLAN_ACCELERATION + 1e-9
        info = _execute(env, plan)
        assert info["success"] is True, info
        # the gripper command travels with its step: a retimed plan keeps each command's order
        fast = np.vstack([plan.q[:5], plan.q[5:6] + 0.4, plan.q[6:]])
        grip = np.zeros((len(fast), 1))
        grip[6:] = 1.0
        from dexsim_sim.skills.keypose import PlanConfig
        slow = _within_limits(env.world, q0, fast, grip, False, PlanConfig())
        assert len(slow.q) > len(fast) and slow.gripper[0, 0] == 0.0 and slow.gripper[-1, 0] == 1.0
        assert np.all(np.diff(slow.gripper[:, 0]) >= 0)
    finally:
        env.close()
