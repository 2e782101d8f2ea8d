"""Closed-loop evaluation of a policy checkpoint: success rates with 95 % Wilson intervals, per task
and per domain-randomization condition.

ONE execution path: both evaluations run the policy through
:class:`~dexsim_policy.controller.PolicyController` (chunk timing from the observation stamp,
temporal ensembling, safety filter, gripper state) against the sim node's ROS-free core
(:class:`~dexsim_sim.simulation.Simulation`: ros2_control-style trajectory and gripper controllers,
task bookkeeping at the data engine's 10 Hz), with episodes set up by :mod:`dexsim_sim.episode`.

- :func:`evaluate_in_process`: the controller and the Simulation in this process; observations are
  rendered every ``1/camera_hz`` s of sim time, commands handed to the controllers at
  ``stamp + latency_s`` (default 0: inference takes no sim time).
- :func:`dexsim_bringup.ros_evaluation.evaluate_over_ros`: the sim node and the policy node as
  separate processes over DDS; the policy node calls the same controller on the images and joint
  states it receives, and the commands go out as FollowJointTrajectory / GripperCommand goals.

Conditions: ``"nominal"`` (the task's own seeded placement, no DR) and, with a spec, ``"dr"`` (every
factor) and, with ``per_factor``, ``"dr:<factor>"`` (that factor alone). Evaluation seeds are
``EVAL_SEED_BASE + seed * SEED_STRIDE + i`` (:func:`dexsim_sim.episode.eval_seed`), disjoint from
the data engine's training seeds for base seeds below 1000.
"""
from __future__ import annotations

import math
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from dexsim_sim.episode import EVAL_SEED_BASE, SEED_STRIDE, eval_seed, task_objects  # noqa: F401 (the one seed rule)

from .checkpoint import checkpoint_scene, read_meta
from .commander import DEFAULT_ACTION_DT_S
from .controller import ArmsController, arms_observation, make_arms_controller, policy_observation
from .errors import PolicyError

WILSON_Z95 = 1.959963984540054     # two-sided 95 % normal quantile
DEFAULT_EPISODE_S = 8.0            # s of sim time per episode at least (the grasp skill takes ~4.5 s)
EPISODE_SLACK = 1.5                # episode budget: at least this times the mean demonstration's duration
NOMINAL = "nominal"
ALL_FACTORS = "dr"


class EvaluationError(RuntimeError):
    """An evaluation request that cannot run (bad robot/task/spec, missing checkpoint, ROS failure)."""


def wilson_interval(successes: int, n: int, z: float = WILSON_Z95) -> tuple[float, float]:
    """Wilson score interval of a binomial proportion; (0, 1) when n == 0."""
    if n == 0:
        return 0.0, 1.0
    p = successes / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return max(0.0, centre - half), min(1.0, centre + half)


@dataclass
class EpisodeOutcome:
    condition: str
    seed: int
    success: bool | None
    steps: int
    info: dict[str, Any] = field(default_factory=dict)


def summarize(outcomes: list[EpisodeOutcome], **extra) -> dict:
    """Success rate and 95 % Wilson interval per condition (episodes with unknown success are
    counted as completed but not rated)."""
    out: dict[str, Any] = {"conditions": {}, **extra}
    for cond in dict.fromkeys(o.condition for o in outcomes):
        eps = [o for o in outcomes if o.condition == cond]
        rated = [o for o in eps if o.success is not None]
        k = sum(bool(o.success) for o in rated)
        entry = {"episodes": len(eps), "rated": len(rated), "successes": k}
        if rated:
            lo, hi = wilson_interval(k, len(rated))
            entry.update(success_rate=k / len(rated), ci95=[lo, hi])
        else:
            entry.update(success_rate=None, ci95=None)
        out["conditions"][cond] = entry
    out["episodes"] = [vars(o) for o in outcomes]
    return out


def _conditions(task: str, spec, per_factor: bool) -> list[tuple[str, Any]]:
    """[(name, DRSpec or None)]: nominal, then the full spec and its single factors."""
    from dexsim_sim.scaling.dr import DRSpec, DRSpecError, load_dr_spec

    conds: list[tuple[str, Any]] = [(NOMINAL, None)]
    if spec is None:
        return conds
    if not isinstance(spec, DRSpec):
        try:
            spec = load_dr_spec(spec)
        except (DRSpecError, OSError, ValueError) as exc:
            raise EvaluationError(f"spec: {exc}") from None
    if spec.task != task:
        raise EvaluationError(f"spec: {spec.name!r} is for task {spec.task!r}, not {task!r}")
    conds.append((ALL_FACTORS, spec))
    if per_factor:
        conds += [(f"{ALL_FACTORS}:{name}", spec.subset([name])) for name in spec.factor_names]
    return conds


def default_episode_s(checkpoint: str | os.PathLike, control_hz: float = 1.0 / DEFAULT_ACTION_DT_S) -> float:
    """The evaluation's sim-time budget per episode: DEFAULT_EPISODE_S, or EPISODE_SLACK times the
    mean demonstration of the checkpoint's dataset when that is longer (open_box's demonstrations
    take about 7 s: an 8 s budget would time out a policy that is a little slower than its data)."""
    try:
        info = read_meta(checkpoint).get("dataset_info", {})
    except Exception as exc:  # noqa: BLE001 - re-raised with the path named
        raise EvaluationError(f"checkpoint {checkpoint}: {exc}") from exc
    steps, episodes = info.get("num_steps"), info.get("num_episodes")
    mean_s = float(steps) / float(episodes) / control_hz if steps and episodes else 0.0
    return max(DEFAULT_EPISODE_S, EPISODE_SLACK * mean_s)


def checkpoint_defaults(checkpoint: str | os.PathLike) -> dict:
    """robot, task, image size, scene file and renderer the checkpoint's dataset was generated with
    (the keys that are unknown are absent)."""
    try:
        info = read_meta(checkpoint).get("dataset_info", {})
    except Exception as exc:  # noqa: BLE001 - re-raised with the path named
        raise EvaluationError(f"checkpoint {checkpoint}: {exc}") from exc
    out = {k: info.get(k) for k in ("robot", "task", "image_size", "scene_file", "renderer") if info.get(k)}
    saved = checkpoint_scene(checkpoint)
    if saved is not None:               # the copy that travels with the checkpoint (the data's path may be gone)
        out["scene_file"] = str(saved)
    return out


def sim_observation(sim, points_of: Sequence[str] = (), seed: int = 0) -> tuple[dict, list[np.ndarray]]:
    """What the policy node receives from the sim node (rendered stereo rgb, the joint readout), as a
    runtime observation and the measured joints of each of the robot's arms. ``points_of``: also the
    object-centric point cloud of these objects (domain-adapted policies), as the data engine records it."""
    from dexsim_sim.episode import point_cloud

    readout = sim.read_joints()
    q, gaps = arms_observation(readout.names, readout.positions, sim.spec.arms)
    images = sim.render()
    obs = policy_observation(images["left_rgb"], images["right_rgb"], q, gaps)
    if points_of:
        obs["points"] = point_cloud(sim.world, images["depth"], images["seg"], points_of, seed=seed)
    return obs, q


def send_command(sim, arm: str, joints, cmd, now: float, gripper_max_effort: float = 0.0) -> tuple[bool, bool]:
    """Hand a controller Command to the simulation's controllers exactly as the sim node does with
    the FollowJointTrajectory / GripperCommand goals the policy node sends. (trajectory sent, gripper sent)"""
    from dexsim_sim.control.trajectory_controller import GoalRejected, TrajectoryGoal, TrajectoryPoint

    sent = False
    if cmd.has_trajectory:
        goal = TrajectoryGoal(tuple(joints), tuple(TrajectoryPoint(float(t), tuple(float(v) for v in q))
                                                   for t, q in zip(cmd.times, cmd.positions)))
        ctrl = sim.arm_controllers[arm]
        try:
            ctrl.start(ctrl.validate(goal, now), now)
            sent = True
        except GoalRejected:
            sent = False
    gripper = cmd.gripper_position is not None
    if gripper:
        sim.gripper_controllers[arm].start(float(cmd.gripper_position), float(gripper_max_effort), now)
    return sent, gripper


def run_episode(sim, controller: ArmsController, seed: int, episode_s: float, *, condition: str = NOMINAL,
                spec=None, camera_hz: float = 1.0 / DEFAULT_ACTION_DT_S, latency_s: float = 0.0) -> EpisodeOutcome:
    """One closed-loop episode: ``sim`` (a :class:`~dexsim_sim.simulation.Simulation`, the sim node's
    core) reset with ``seed`` (and ``spec``'s DR sample), a stereo observation every ``1/camera_hz`` s
    of sim time, each turned into a command by ``controller`` at ``stamp + latency_s`` and handed to
    the simulation's trajectory and gripper controllers, which run at the sim's control rate. Ends
    when the task succeeds or after ``episode_s`` s of sim time."""
    info = sim.reset(int(seed), spec=spec)
    sample = info.pop("dr_sample", None)
    controller.reset()
    arms = {a.name: a for a in sim.spec.arms}
    points_of = task_objects(sim.env.task) if controller.runtime.config.use_points else ()
    start = sim.time
    next_obs = start
    pending: list[tuple[float, int, object]] = []     # (due, arm index, command)
    goals = 0
    status = sim.episode_status()
    while sim.time < start + episode_s - 1e-9:
        if sim.time >= next_obs - 1e-9:
            next_obs += 1.0 / camera_hz
            obs, q = sim_observation(sim, points_of, int(seed))
            stamp = sim.time
            results = controller.step(obs, stamp, stamp + latency_s, q)
            pending += [(stamp + latency_s, i, r.command) for i, r in enumerate(results) if r.command is not None]
        while pending and pending[0][0] <= sim.time + 1e-9:
            _, i, cmd = pending.pop(0)
            name = controller.names[i]
            sent, gripper = send_command(sim, name, arms[name].joints, cmd, sim.time)
            controller.arms[i].commander.mark_sent(sent, gripper)
            goals += int(sent)
        sim.update_controllers()
        sim.time = sim.step()
        status = sim.episode_status()
        if status["success"]:
            break
    scalars = {k: v for k, v in status.items() if isinstance(v, (bool, int, float))}
    scalars.update(sim_s=sim.time - start, goals_sent=goals)
    if sample is not None:
        scalars["dr_sample"] = sample
    return EpisodeOutcome(condition, int(seed), bool(status["success"]), int(status.get("num_steps", 0)), scalars)


def evaluate_in_process(checkpoint: str | os.PathLike, robot: str | None = None, task: str | None = None,
                        episodes: int = 10, spec=None, seed: int = 0, *, per_factor: bool = False,
                        episode_s: float | None = None, image_size: tuple[int, int] | None = None,
                        camera_hz: float = 1.0 / DEFAULT_ACTION_DT_S, latency_s: float = 0.0,
                        renderer: str | None = None, scene_file: str | os.PathLike | None = None,
                        device: str = "cpu", seeds: Sequence[int] | None = None, progress: bool = False,
                        ensemble_coeff="checkpoint", nominal: bool = True) -> dict:
    """Success rate of ``checkpoint`` over ``episodes`` per condition (see the module doc).

    Robot, task, image size, renderer and scene default to what the checkpoint's dataset was
    generated with. ``seeds``: explicit episode seeds instead of the evaluation seeds (e.g. the
    training episodes' seeds, to check that the policy reproduces its demonstrations).
    ``nominal=False`` with a ``spec``: only the spec's condition (e.g. one fixed test gap)."""
    from dexsim_sim.simulation import SimConfigError, SimNodeConfig, Simulation

    from .runtime import PolicyRuntime

    if isinstance(episodes, bool) or not isinstance(episodes, int) or episodes < 1:
        raise EvaluationError(f"episodes: expected an integer >= 1, got {episodes!r}")
    episode_seeds = [int(s) for s in seeds] if seeds is not None else [eval_seed(seed, i) for i in range(episodes)]
    if not episode_seeds or min(episode_seeds) < 0:
        raise EvaluationError(f"seeds: expected non-negative episode seeds, got {seeds!r}")
    episode_s = default_episode_s(checkpoint) if episode_s is None else episode_s
    if not episode_s > 0:
        raise EvaluationError(f"episode_s: expected > 0, got {episode_s}")
    defaults = checkpoint_defaults(checkpoint)
    robot = robot or defaults.get("robot")
    task = task or defaults.get("task") or "grasp"
    size = tuple(image_size or defaults.get("image_size") or (128, 160))
    scene_file = str(scene_file or defaults.get("scene_file") or "")
    runtime = PolicyRuntime.load(checkpoint, device=device, seed=seed)
    try:
        sim = Simulation(SimNodeConfig(robot=robot or "wx250s", task=task, scene_file=scene_file,
                                       image_width=int(size[1]), image_height=int(size[0]),
                                       renderer=renderer or defaults.get("renderer") or "auto", real_time_factor=0.0))
    except (SimConfigError, ValueError, KeyError) as exc:
        raise EvaluationError(f"environment: {exc}") from None
    try:
        controller = make_arms_controller(runtime, sim.spec, ensemble_coeff=ensemble_coeff)
    except PolicyError as exc:
        sim.close()
        raise EvaluationError(str(exc)) from None
    conditions = _conditions(task, spec, per_factor)
    if not nominal and spec is not None:
        conditions = [c for c in conditions if c[0] != NOMINAL]
    outcomes: list[EpisodeOutcome] = []
    t0 = time.perf_counter()
    try:
        for name, cond_spec in conditions:
            for i, episode_seed in enumerate(episode_seeds):
                out = run_episode(sim, controller, episode_seed, episode_s, condition=name, spec=cond_spec,
                                  camera_hz=camera_hz, latency_s=latency_s)
                outcomes.append(out)
                if progress:
                    done = [o for o in outcomes if o.condition == name]
                    k = sum(bool(o.success) for o in done)
                    print(f"[eval] {name} episode {i + 1}/{len(episode_seeds)} seed {out.seed}: "
                          f"{'success' if out.success else 'failure'} after {out.info['sim_s']:.1f} s "
                          f"({k}/{len(done)} so far)", flush=True)
    finally:
        sim.close()
    return summarize(outcomes, mode="in_process", checkpoint=str(Path(checkpoint).resolve()),
                     robot=sim.spec.name, task=task, image_size=list(size), seed=seed, scene_file=scene_file,
                     episode_s=episode_s, latency_s=latency_s,
                     safety=dict(controller.counters, violations=controller.violations),
                     wall_s=time.perf_counter() - t0)
