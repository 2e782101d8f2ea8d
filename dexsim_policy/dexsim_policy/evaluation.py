"""Closed-loop evaluation of a policy checkpoint: success rates with 95 % Wilson intervals, per task
and per domain-randomization condition.

- :func:`evaluate_in_process`: :class:`~dexsim_sim.env.DexSimEnv` + :class:`PolicyRuntime` in this
  process, actions through the same :class:`~dexsim_policy.commander.ActionCommander` (safety filter,
  gripper state) as the ROS policy node. Episode setup mirrors the data engine: task reset with the
  episode seed, DR sample drawn from ``(spec, seed)`` and applied, ``DR_SETTLE_STEPS`` of physics.
- :func:`dexsim_bringup.ros_evaluation.evaluate_over_ros`: the sim node and the policy node as separate processes over DDS (the
  bringup's ``sim_graph``); per episode ``/dexsim/reset`` with the seed, activate the policy for a
  fixed sim-time budget, deactivate. The sim node publishes no task-success signal yet, so this path
  reports completed episodes and the goals the sim received, with ``success = None``; DR conditions
  are not applied over ROS (the sim node cannot apply a DR spec) and are evaluated in-process.

Conditions: ``"nominal"`` (the task's own seeded placement, no DR) and, with a spec, ``"dr"`` (every
factor) and, with ``per_factor``, ``"dr:<factor>"`` (that factor alone). Evaluation seeds are
``EVAL_SEED_BASE + seed * SEED_STRIDE + i``, disjoint from the data engine's training seeds for base
seeds below 1000.
"""
from __future__ import annotations

import math
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from .checkpoint import read_meta
from .commander import ActionCommander, CommandConfig, CommandedTrajectory, DEFAULT_ACTION_DT_S

EVAL_SEED_BASE = 1_000_000_000     # keeps evaluation episodes apart from training seeds (< 1e9)
SEED_STRIDE = 1_000_003
WILSON_Z95 = 1.959963984540054     # two-sided 95 % normal quantile
DR_SETTLE_STEPS = 24               # physics steps after applying a DR sample (as the data engine)
DEFAULT_MAX_STEPS = 80             # control steps per episode (the grasp oracle needs ~45)
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


def eval_seed(seed: int, index: int) -> int:
    return EVAL_SEED_BASE + int(seed) * SEED_STRIDE + int(index)


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


def checkpoint_defaults(checkpoint: str | os.PathLike) -> dict:
    """robot, task and image size the checkpoint's dataset was recorded with (empty when unknown)."""
    try:
        info = read_meta(checkpoint).get("dataset_info", {})
    except Exception as exc:  # noqa: BLE001 - re-raised with the path named
        raise EvaluationError(f"checkpoint {checkpoint}: {exc}") from exc
    return {k: info.get(k) for k in ("robot", "task", "image_size") if info.get(k)}


def _observe(world, use_points: bool, bodies: list[int], seed: int) -> dict[str, np.ndarray]:
    """The observation the data engine records (joints, gripper gap, stereo rgb, points)."""
    q, qd = world.joint_states()
    obs = {"joint_pos": q.astype(np.float32), "joint_vel": qd.astype(np.float32),
           "gripper": world.gripper_openings()[:1].astype(np.float32)}
    images = world.render()
    obs.update(left_rgb=images["left_rgb"], right_rgb=images["right_rgb"])
    if use_points:
        from dexsim_sim.scaling.adaptation import masked_point_cloud

        optical_in_base = np.linalg.inv(world.base_matrix()) @ world.rig.optical_pose("left")
        depth = np.clip(images["depth"], world.rig.near, world.rig.far)
        obs["points"] = masked_point_cloud(depth, images["seg"], bodies, world.rig.K, optical_in_base,
                                           seed=seed).points
    return obs


def run_episode(env, runtime, commander: ActionCommander, seed: int, max_steps: int, condition: str = NOMINAL,
                spec=None, target=None) -> EpisodeOutcome:
    """One closed-loop episode in ``env``: one policy action per control step through ``commander``."""
    from dexsim_sim.scaling.dr import DRSampler, apply_sample

    world = env.world
    if target is not None:
        target.reset_dr()
    env.reset(seed=seed)
    sample = None
    if spec is not None:
        target.capture_reference()
        sample = DRSampler(spec).sample(seed)
        apply_sample(spec, sample, target)
    world.step(DR_SETTLE_STEPS)
    runtime.reset()
    commander.reset()
    dt = 1.0 / env.config.control_hz
    tracker = CommandedTrajectory()
    bodies = [world.object(env.task.target).body] if runtime.config.use_points and hasattr(env.task, "target") else []
    grip = 0.0
    info = env.task.evaluate()
    step = 0
    for step in range(1, max_steps + 1):
        obs = _observe(world, runtime.config.use_points, bodies, seed)
        now = (step - 1) * dt
        state = tracker.state(now)
        q_start, v_start = state if state is not None else (obs["joint_pos"].astype(np.float64), np.zeros(commander.n_joints))
        cmd = commander.command(runtime.act(obs)[None], q_start, v_start)
        if cmd.has_trajectory:
            tracker.set(now, q_start, cmd.times, cmd.positions)
            target_q = cmd.positions[0]
        else:
            tracker.set(now, q_start, np.array([dt]), q_start[None])  # hold the commanded position
            target_q = q_start
        if cmd.gripper_closed is not None:
            grip = float(cmd.gripper_closed)
        commander.mark_sent(cmd.has_trajectory, cmd.gripper_position is not None)
        _, _, terminated, _, info = env.step(np.concatenate([target_q, [grip]]).astype(np.float32))
        if terminated:
            break
    scalars = {k: v for k, v in info.items() if isinstance(v, (bool, int, float))}
    if sample is not None:
        scalars["dr_sample"] = sample.to_dict()
    return EpisodeOutcome(condition, int(seed), bool(info["success"]), step, scalars)


def evaluate_in_process(checkpoint: str | os.PathLike, robot: str | None = None, task: str | None = None,
                        episodes: int = 10, spec=None, seed: int = 0, *, per_factor: bool = False,
                        max_steps: int = DEFAULT_MAX_STEPS, image_size: tuple[int, int] | None = None,
                        control_hz: float = 1.0 / DEFAULT_ACTION_DT_S, renderer: str = "auto",
                        device: str = "cpu", seeds: Sequence[int] | None = None, progress: bool = False) -> dict:
    """Success rate of ``checkpoint`` over ``episodes`` per condition (see the module doc).

    ``seeds``: explicit episode seeds instead of the evaluation seeds (e.g. the training episodes'
    seeds, to check that the policy reproduces its demonstrations in closed loop)."""
    from dexsim_sim.env import DexSimEnv
    from dexsim_sim.robots.registry import get_robot
    from dexsim_sim.scaling.world_target import WorldTarget

    from .runtime import PolicyRuntime

    if isinstance(episodes, bool) or not isinstance(episodes, int) or episodes < 1:
        raise EvaluationError(f"episodes: expected an integer >= 1, got {episodes!r}")
    episode_seeds = [int(s) for s in seeds] if seeds is not None else [eval_seed(seed, i) for i in range(episodes)]
    if not episode_seeds or min(episode_seeds) < 0:
        raise EvaluationError(f"seeds: expected non-negative episode seeds, got {seeds!r}")
    if max_steps < 1:
        raise EvaluationError(f"max_steps: expected >= 1, got {max_steps}")
    defaults = checkpoint_defaults(checkpoint)
    robot = robot or defaults.get("robot")
    task = task or defaults.get("task") or "grasp"
    size = tuple(image_size or defaults.get("image_size") or (128, 160))
    runtime = PolicyRuntime.load(checkpoint, device=device, seed=seed)
    try:
        env = DexSimEnv(task=task, robot=robot, image_size=(int(size[0]), int(size[1])), control_hz=control_hz,
                        renderer=renderer, max_episode_steps=max_steps)
    except (ValueError, KeyError) as exc:
        raise EvaluationError(f"environment: {exc}") from None
    spec_robot = get_robot(env.spec_robot.name)
    commander = ActionCommander.for_robot(spec_robot, CommandConfig(action_dt_s=1.0 / control_hz))
    conditions = _conditions(task, spec, per_factor)
    target = WorldTarget(env.world) if spec is not None else None
    outcomes: list[EpisodeOutcome] = []
    t0 = time.perf_counter()
    try:
        for name, cond_spec in conditions:
            for i, episode_seed in enumerate(episode_seeds):
                out = run_episode(env, runtime, commander, episode_seed, max_steps, name, cond_spec, target)
                outcomes.append(out)
                if progress:
                    print(f"[eval] {name} episode {i + 1}/{len(episode_seeds)} seed {out.seed}: "
                          f"{'success' if out.success else 'failure'} in {out.steps} steps", flush=True)
    finally:
        env.close()
    return summarize(outcomes, mode="in_process", checkpoint=str(Path(checkpoint).resolve()),
                     robot=spec_robot.name, task=task, image_size=list(size), seed=seed,
                     safety=dict(commander.counters, violations=commander.violations),
                     wall_s=time.perf_counter() - t0)
