"""End to end: a (synthetic, noisy) human demonstration of the grasp task, retargeted to gripper
keyposes in the robot base frame, replayed in DexSimEnv: the task reports success."""
from __future__ import annotations

import numpy as np
import pytest

from dexsim_sim.env import DexSimEnv
from dexsim_sim.projection.replay_check import ReplayConfig, ReplayError, replay_in_env, resample_path
from dexsim_sim.projection.retarget import retarget
from dexsim_sim.projection.synthetic_scene import left_camera, synthesize_grasp_demo

MISSED_GRASP_OFFSET_M = (0.0, 0.0, 0.06)     # the whole demo 6 cm higher: the fingers close above the object


def _projected_replay(robot: str, seed: int, offset=(0.0, 0.0, 0.0)):
    env = DexSimEnv(task="grasp", robot=robot, render_images=False, max_episode_steps=150)
    try:
        env.reset(seed=seed)
        demo = synthesize_grasp_demo(env.world, env.task.target, seed=seed, offset_m=offset)
        seq = retarget(demo.track, left_camera(env.world).base_from_optical)
        return seq, replay_in_env(env, seq)
    finally:
        env.close()


@pytest.mark.parametrize("robot, seed", [("sr3", 0), ("wx250s", 1)])
def test_projected_skill_succeeds_in_sim(robot, seed):
    seq, result = _projected_replay(robot, seed)
    assert "grasp" in seq.labels
    print(f"{robot}: success={result.success} in {result.steps} steps, lift {result.info['lift_height']:.3f} m")
    assert result.success, result.info
    assert result.info["fingers_in_contact"] and result.info["lift_height"] >= 0.1


def test_replay_of_a_missed_grasp_fails():
    _, result = _projected_replay("wx250s", 1, MISSED_GRASP_OFFSET_M)
    assert not result.success
    assert result.info["lift_height"] < 0.05


def test_resample_path_inserts_grasp_hold_and_validates_labels():
    env = DexSimEnv(task="grasp", robot="wx250s", render_images=False)
    try:
        env.reset(seed=0)
        seq = retarget(synthesize_grasp_demo(env.world, env.task.target).track, left_camera(env.world).base_from_optical)
    finally:
        env.close()
    poses, closure = resample_path(seq, 10.0, ReplayConfig(grasp_hold_steps=4, end_hold_steps=2))
    first_closed = int(np.argmax(closure > 0))
    assert closure[0] == 0 and closure[-1] == 1
    assert np.allclose(poses[first_closed:first_closed + 5], poses[first_closed])    # 4 holds + the pose itself
    with pytest.raises(ReplayError, match="no 'carry' keypose"):
        resample_path(seq, 10.0, ReplayConfig(end_label="carry"))
    with pytest.raises(ReplayError, match="is not after"):
        resample_path(seq, 10.0, ReplayConfig(start_label="place", end_label="grasp"))
