"""DexSimEnv: gymnasium API conformance, seeded determinism, action validation, action modes."""
from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

from dexsim_sim.env import ActionError, DexSimEnv, EnvConfigError

SMALL = (48, 64)


@pytest.fixture(scope="module")
def env():
    e = DexSimEnv(task="grasp", robot="wx250s", image_size=SMALL, renderer="tiny", max_episode_steps=20)
    yield e
    e.close()


def test_check_env(env):
    check_env(env, skip_render_check=True)


def test_observation_contents(env):
    obs, info = env.reset(seed=1)
    assert obs["left_rgb"].shape == (*SMALL, 3) and obs["right_rgb"].dtype == np.uint8
    assert obs["depth"].shape == SMALL and obs["seg"].dtype == np.int32
    assert obs["joint_pos"].shape == (6,) and obs["ee_pose"].shape == (7,) and obs["gripper"].shape == (1,)
    target = env.world.object("target").body
    assert (obs["seg"] == target).any()
    assert info["success"] is False and info["renderer"] == "tiny"
    assert env.observation_space.contains(obs)


def test_same_seed_same_observations():
    envs = [DexSimEnv(task="grasp", robot="wx250s", image_size=SMALL, renderer="tiny") for _ in range(2)]
    try:
        envs[1].reset(seed=99)   # a different history must not matter
        envs[1].step(envs[1].action_space.sample())
        trajectories = []
        for e in envs:
            obs, _ = e.reset(seed=7)
            seq = [obs]
            action = np.concatenate([e.world.robot.spec.home, [0.5]]).astype(np.float32)
            for _ in range(3):
                seq.append(e.step(action)[0])
            trajectories.append(seq)
        for a, b in zip(*trajectories):
            for key in a:
                assert np.array_equal(a[key], b[key]), key
        other, _ = envs[0].reset(seed=8)
        assert not np.array_equal(other["left_rgb"], trajectories[0][0]["left_rgb"])
    finally:
        for e in envs:
            e.close()


def test_observe_false_skips_cameras_and_images_do_not_depend_on_render_history():
    """reset/step with observe off return no images; the first images a world renders equal those
    of a world that rendered before (the data engine skips frames it does not store)."""
    envs = [DexSimEnv(task="grasp", robot="wx250s", image_size=SMALL) for _ in range(2)]
    try:
        envs[0].reset(seed=7)
        obs, _ = envs[1].reset(seed=7, options={"observe": False})
        assert "left_rgb" not in obs and "joint_pos" in obs
        action = np.concatenate([envs[0].world.robot.spec.home, [0.5]]).astype(np.float32)
        blind = envs[1].step(action, observe=False)[0]
        assert "left_rgb" not in blind and "depth" not in blind
        envs[0].step(action)
        a, b = envs[0].step(action)[0], envs[1].step(action)[0]
        for key in ("left_rgb", "right_rgb", "depth", "seg"):
            assert np.array_equal(a[key], b[key]), key
    finally:
        for e in envs:
            e.close()


def test_bad_actions_raise(env):
    env.reset(seed=0)
    good = env.action_space.sample()
    with pytest.raises(ActionError, match="NaN/inf at indices \\[2\\]"):
        bad = good.copy()
        bad[2] = np.nan
        env.step(bad)
    with pytest.raises(ActionError, match="expected shape \\(7,\\)"):
        env.step(good[:5])
    with pytest.raises(ActionError, match="not a numeric vector"):
        env.step(["a"] * 7)


def test_bad_config_raises():
    with pytest.raises(EnvConfigError, match="task: unknown 'fly'"):
        DexSimEnv(task="fly")
    with pytest.raises(EnvConfigError, match="whole number"):
        DexSimEnv(control_hz=7.0)


def test_ee_mode_reaches_a_target():
    env = DexSimEnv(task="grasp", robot="sr3", action_mode="ee", render_images=False)
    try:
        obs, _ = env.reset(seed=0)
        assert "left_rgb" not in obs
        target = obs["ee_pose"].astype(np.float64)
        target[2] -= 0.05
        for _ in range(10):
            obs, *_ = env.step(np.concatenate([target, [0.0]]).astype(np.float32))
        assert np.linalg.norm(obs["ee_pose"][:3] - target[:3]) < 0.005
    finally:
        env.close()


def test_registered_ids_and_scene_option(tmp_path):
    assert "DexSim/Grasp-sr3-v0" in gym.registry and "DexSim/Rearrange-wx250s_bimanual-v0" in gym.registry
    env = gym.make("DexSim/Grasp-wx250s-v0", image_size=SMALL, render_images=False).unwrapped
    try:
        scene = env.world.scene
        scene.objects[0].pose = (0.05, 0.0, 0.0, 0.0, 0.0, 0.0, 1.0)
        env.task.config = type(env.task.config)(xy_range=0.0, yaw_range=0.0)
        env.reset(seed=0, options={"scene": scene.save(tmp_path / "moved.yaml")})
        assert env.world.object_pose("target")[:2] == pytest.approx([0.05, 0.0], abs=2e-3)
    finally:
        env.close()


def test_bimanual_env_has_a_wrist_camera_per_arm():
    from dexsim_sim.env import DexSimEnv

    env = DexSimEnv(task="rearrange", robot="wx250s_bimanual", image_size=(48, 64), wrist_image_size=(24, 32))
    try:
        obs, _ = env.reset(seed=0)
        for arm in ("left", "right"):
            img = obs[f"wrist_rgb_{arm}"]
            assert img.shape == (24, 32, 3) and img.dtype == np.uint8
            assert env.observation_space[f"wrist_rgb_{arm}"].contains(img)
            assert img.std() > 1.0            # a real view, not a blank frame
        assert not np.array_equal(obs["wrist_rgb_left"], obs["wrist_rgb_right"])   # two cameras, two views
    finally:
        env.close()
    single = DexSimEnv(task="grasp", robot="sr3", image_size=(48, 64))
    try:
        assert not any(k.startswith("wrist_rgb") for k in single.observation_space.spaces)   # off by default
    finally:
        single.close()
