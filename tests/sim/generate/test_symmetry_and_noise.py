"""Data that teaches: symmetry-aware re-targeting (identical-looking scenes get the same wrist
targets) and DART skill noise (perturbed execution, clean labels, still physics-verified)."""
from __future__ import annotations

import math

import numpy as np
import pytest

from dexsim_sim.env import DexSimEnv
from dexsim_sim.robots.transforms import matrix_to_pose, pose_to_matrix, rotation_angle
from dexsim_sim.scaling.dr import DRSampler, DRSpec, DRSpecError, SkillNoise, load_dr_spec
from dexsim_sim.scaling.generate import EpisodeRunner
from dexsim_sim.skills.keypose import skill_for_task
from dexsim_sim.world.assets import default_library

SMALL = (48, 64)


@pytest.mark.parametrize("asset, scale, turns", [
    ("can_small", (1, 1, 1), 0), ("bottle_small", (1, 1, 1), 0), ("box_small", (1, 1, 1), 4),
    ("box_flat", (1, 1, 1), 2), ("mug_small", (1, 1, 1), 1), ("paper_box", (1, 1, 1), 1), ("banana", (1, 1, 1), 1),
    ("can_small", (0.9, 1.1, 1.0), 2), ("box_small", (1.0, 1.2, 1.0), 2)])
def test_symmetry_turns_of_assets(asset, scale, turns):
    assert default_library().get(asset).symmetry_turns(scale) == turns


def _yawed(env, seed: int, name: str, yaw: float) -> None:
    """Reset with ``seed`` and turn object ``name`` to ``yaw`` (rad) about world z, in place."""
    env.reset(seed=seed)
    world = env.world
    pose = pose_to_matrix(world.object_pose(name))
    c, s = math.cos(yaw), math.sin(yaw)
    pose[:3, :3] = np.array([[c, -s, 0], [s, c, 0], [0, 0, 1]])
    poses = {n: world.object_pose(n) for n in world.objects}
    poses[name] = matrix_to_pose(pose)
    world.reset_objects(poses)


def _grasp_rotation(env, skill) -> np.ndarray:
    return skill.retarget(env.world)[1][0][:3, :3]     # the "grasp" key pose of arm 0


@pytest.mark.parametrize("robot, yaws", [
    ("wx250s", (0.3, 0.3 + math.pi / 2, 0.3 - math.pi / 2, 0.3 + math.pi)),   # a cube: every 90 degrees
    ("sr3", (0.0, 0.9, -2.0, 2.8))])                                             # a can: any yaw
def test_symmetric_objects_give_one_wrist_target(robot, yaws):
    env = DexSimEnv(task="grasp", robot=robot, image_size=SMALL, renderer="tiny", render_images=False)
    try:
        env.reset(seed=0)
        skill = skill_for_task(env.task)
        target = env.task.target
        rotations = []
        for yaw in yaws:
            _yawed(env, 0, target, yaw)
            rotations.append(_grasp_rotation(env, skill))
        for rot in rotations[1:]:
            assert rotation_angle(rot, rotations[0]) < 1e-6, "equivalent scenes got different wrist targets"
        # and the object still decides where the fingers go: a non-equivalent yaw changes the target
        _yawed(env, 0, target, yaws[0] + 0.4)
        if robot == "wx250s":
            assert rotation_angle(_grasp_rotation(env, skill), rotations[0]) > 0.3
    finally:
        env.close()


def test_skill_noise_is_seeded_smooth_and_fades_out():
    noise = SkillNoise(joint_std_rad=0.03, correlation=0.8, clean_steps=5)
    a, b = noise.offsets(7, 200, 6), noise.offsets(7, 200, 6)
    assert np.array_equal(a, b) and not np.array_equal(a, noise.offsets(8, 200, 6))
    assert 0.015 < a[:150].std() < 0.045                     # stationary std ~ joint_std_rad
    assert np.abs(np.diff(a[:150], axis=0)).mean() < a[:150].std()   # correlated: small steps
    assert np.all(a[-1] == 0) and np.all(np.abs(a[-3]) <= np.abs(noise.offsets(7, 200, 6)[-6]).max())
    assert not SkillNoise().offsets(1, 10, 6).any()


def test_skill_noise_in_the_spec_round_trips_and_is_validated():
    spec = load_dr_spec("nominal/grasp")
    assert spec.factors == () and spec.skill_noise.ee_std_m > 0 and spec.skill_noise.ee_rot_std_rad > 0
    assert DRSpec.from_dict(spec.to_dict()) == spec
    plain = DRSpec.from_dict({"name": "n", "task": "grasp", "factors": []})
    assert "skill_noise" not in plain.to_dict()             # specs without noise keep their hash
    with pytest.raises(DRSpecError, match="joint_std_rad"):
        DRSpec.from_dict({"name": "n", "task": "grasp", "factors": [], "skill_noise": {"joint_std_rad": 5.0}})
    with pytest.raises(DRSpecError, match="unknown"):
        DRSpec.from_dict({"name": "n", "task": "grasp", "factors": [], "skill_noise": {"std": 0.1}})


def test_noisy_demonstrations_keep_clean_labels_and_stay_verified():
    clean = DRSpec.from_dict({"name": "clean", "task": "grasp", "factors": []})
    noisy = load_dr_spec("nominal/grasp")
    results = {}
    for spec in (clean, noisy):
        runner = EpisodeRunner("wx250s", "grasp", spec.to_dict(), SMALL, renderer="tiny")
        try:
            results[spec.name] = [runner.run(i, seed, DRSampler(spec).sample(seed).to_dict()) for i, seed in
                                  enumerate((11, 12, 13))]
        finally:
            runner.close()
    verified = 0
    for c, n in zip(results["clean"], results["grasp_nominal"]):
        assert c.success, c.reason
        if not n.success:          # noise may make an episode fail: it is then discarded, never written
            assert n.reason == "physics_failed" and n.episode is None
            continue
        verified += 1
        assert n.episode.success
        assert np.array_equal(c.episode.actions, n.episode.actions), "labels must be the clean plan"
        drift = np.abs(c.episode.obs["joint_pos"] - n.episode.obs["joint_pos"]).max()
        assert drift > 0.01, "the noisy execution did not leave the nominal path"
    assert verified >= 2


@pytest.mark.parametrize("robot", ["wx250s", "aubo_i5"])
def test_end_effector_noise_moves_every_arm_by_the_same_distance(robot):
    """ee_std_m is metres at the gripper on any arm: the joint offsets it maps to, through the
    arm's Jacobian, displace the end effector by about that much (joint noise would not: 0.03 rad
    moves the AUBO's gripper about twice as far as the WidowX's)."""
    from dexsim_sim.robots.kinematics import arm_chain
    from dexsim_sim.robots.registry import get_robot

    spec = get_robot(robot)
    chain = arm_chain(spec)
    noise = SkillNoise(ee_std_m=0.004, ee_rot_std_rad=0.01, clean_steps=0)
    q = np.tile(np.asarray(spec.home), (400, 1))
    dq = noise.joint_offsets(3, q, [chain], [list(range(len(spec.arm_joints)))])
    assert np.array_equal(dq, noise.joint_offsets(3, q, [chain], [list(range(len(spec.arm_joints)))]))
    moved = np.linalg.norm(chain.fk(q + dq)[:, :3, 3] - chain.fk(q)[:, :3, 3], axis=1)
    per_axis = np.sqrt(np.mean(moved ** 2) / 3)          # rms per axis
    assert 0.003 < per_axis < 0.005, per_axis
    assert not SkillNoise(joint_std_rad=0.01).ee_offsets(3, 10).any()
    with pytest.raises(DRSpecError, match="ee_std_m"):
        SkillNoise(ee_std_m=1.0)


def test_end_effector_noise_is_in_the_spec_and_joint_noise_specs_keep_their_hash():
    spec = load_dr_spec("nominal/open_box")
    assert spec.skill_noise.ee_std_m > 0 and DRSpec.from_dict(spec.to_dict()) == spec
    joint_only = DRSpec.from_dict({"name": "n", "task": "grasp", "factors": [],
                                   "skill_noise": {"joint_std_rad": 0.03, "correlation": 0.8, "clean_steps": 5}})
    assert "ee_std_m" not in joint_only.to_dict()["skill_noise"]    # specs written before ee noise keep their hash


def test_start_noise_is_seeded_validated_and_absent_specs_keep_their_hash():
    from dexsim_sim.robots.kinematics import arm_chain
    from dexsim_sim.robots.registry import get_robot

    spec = get_robot("wx250s")
    chain, cols = [arm_chain(spec)], [list(range(len(spec.arm_joints)))]
    noise = SkillNoise(start_ee_std_m=0.015, start_ee_rot_std_rad=0.15)
    a = noise.start_offsets(5, spec.home, chain, cols)
    assert np.array_equal(a, noise.start_offsets(5, spec.home, chain, cols))
    assert not np.array_equal(a, noise.start_offsets(6, spec.home, chain, cols)) and np.abs(a).max() > 0.02
    assert not SkillNoise(ee_std_m=0.005).start_offsets(5, spec.home, chain, cols).any()
    assert "start_ee_std_m" not in load_dr_spec("nominal/open_box").to_dict()["skill_noise"]
    d = {"name": "n", "task": "grasp", "factors": [], "skill_noise": {"start_ee_rot_std_rad": 0.15}}
    assert DRSpec.from_dict(DRSpec.from_dict(d).to_dict()) == DRSpec.from_dict(d)
    with pytest.raises(DRSpecError, match="start_ee_rot_std_rad"):
        SkillNoise(start_ee_rot_std_rad=2.0)


def test_start_noise_starts_away_from_home_and_the_grasp_follows_the_wrist():
    """Started away from home, the demonstration is planned from there; at a cube yaw where two
    equivalent grasps meet, the wrist's side decides which one the labels show."""
    spec = DRSpec.from_dict({"name": "s", "task": "grasp", "factors": [],
                             "skill_noise": {"start_ee_std_m": 0.015, "start_ee_rot_std_rad": 0.15}})
    runner = EpisodeRunner("wx250s", "grasp", spec.to_dict(), SMALL, renderer="tiny")
    try:
        res = runner.run(0, 11, DRSampler(spec).sample(11).to_dict())
        assert res.success, res.reason
        home = np.asarray(runner.robot.home)
        assert np.abs(res.episode.obs["joint_pos"][0] - home).max() > 0.02
    finally:
        runner.close()
    env = DexSimEnv(task="grasp", robot="wx250s", image_size=SMALL, renderer="tiny", render_images=False)
    try:
        env.reset(seed=0)
        skill, target, world = skill_for_task(env.task), env.task.target, env.world
        home = np.asarray(world.robot.spec.home, float)
        rotations = []
        for deg in range(0, 91):                        # the yaw where the nearest grasp flips
            _yawed(env, 0, target, math.radians(deg))
            rotations.append(_grasp_rotation(env, skill))
        jumps = [i for i in range(1, 91) if rotation_angle(rotations[i], rotations[i - 1]) > 0.5]
        assert len(jumps) == 1, jumps
        _yawed(env, 0, target, math.radians(jumps[0] - 0.5))
        chosen = []
        for side in (-1.0, 1.0):
            q = home.copy()
            q[-1] += side * 0.1                         # the wrist turned a little either way
            world.set_robot_joints(q, 0.0)
            chosen.append(_grasp_rotation(env, skill))
        assert rotation_angle(chosen[0], chosen[1]) > 1.0, "the grasp did not follow the wrist"
    finally:
        env.close()
