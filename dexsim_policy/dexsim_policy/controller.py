"""The policy controller: from timestamped observations to safe arm and gripper commands. ROS-free,
and THE execution path: the ROS policy node and the in-process closed-loop evaluation both call
:meth:`PolicyController.step`, so they differ only in how observations arrive and commands leave.

Timing. The data engine records ``obs_t`` and then commands ``action_t`` for the control period
``[t, t + dt]``. A chunk predicted from an observation stamped ``t_obs`` therefore puts row ``k``
at the absolute time ``t_obs + (k + 1) dt`` (the joint target reached by the end of its period),
whatever the latency: rows whose time has already passed when the command goes out (``now``) are
dropped, the rest are timed from ``now``. Over ROS ``now`` is the node clock after inference; in
process it is the observation time plus an optional modelled latency.

Blending. With ``ensemble_coeff`` set (ACT's temporal ensembling, Zhao et al. 2023), every future
row is the weighted mean of what each still-valid earlier chunk predicted for that same absolute
time (linear interpolation between its rows), weights ``exp(-m i)`` with ``i = 0`` the oldest
chunk. Because the blend is keyed on absolute time, it is the same for any latency and rate. With
``ensemble_coeff=None`` the newest chunk alone is used (chunk stitching).

Then :class:`~dexsim_policy.commander.ActionCommander`: starting from the position currently
commanded (so consecutive trajectories join without a jump), positions, velocities,
accelerations and the workspace box are enforced and NaN/inf refused; the gripper command goes out
when its open/closed state changes.

Watchdog: :meth:`PolicyController.inputs_fresh` names the inputs older than ``max_input_age_s``;
callers hold (send nothing, cancel the active goal) while any is stale.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Mapping, Sequence

import numpy as np

from .commander import (DEFAULT_ACTION_DT_S, DEFAULT_MAX_ACCELERATION, ActionCommander, Command, CommandConfig,
                        CommandedTrajectory)
from .errors import PolicyConfigError

NS_PER_S = 1e9
MIN_LEAD_S = 1e-3                # s: a row due sooner than this after `now` counts as already past
DEFAULT_MAX_INPUT_AGE_S = 0.5


@dataclass(frozen=True)
class ControllerConfig:
    """``ensemble_coeff``: ACT's ``m`` (None = newest chunk only); ``max_input_age_s``: watchdog."""

    command: CommandConfig = field(default_factory=CommandConfig)
    ensemble_coeff: float | None = 0.01
    max_input_age_s: float = DEFAULT_MAX_INPUT_AGE_S

    def __post_init__(self) -> None:
        if self.ensemble_coeff is not None and not (math.isfinite(self.ensemble_coeff) and self.ensemble_coeff >= 0):
            raise PolicyConfigError(f"ControllerConfig.ensemble_coeff={self.ensemble_coeff}: expected >= 0 or None")
        if not (math.isfinite(self.max_input_age_s) and self.max_input_age_s > 0):
            raise PolicyConfigError(f"ControllerConfig.max_input_age_s={self.max_input_age_s}: expected > 0")

    @property
    def action_dt_s(self) -> float:
        return self.command.action_dt_s


class ChunkBlender:
    """Temporal ensembling keyed on absolute time (see the module doc)."""

    def __init__(self, coeff: float) -> None:
        self.coeff = float(coeff)
        self._chunks: list[tuple[np.ndarray, np.ndarray]] = []    # (knot times (K,), rows (K, D)), oldest first

    def reset(self) -> None:
        self._chunks.clear()

    def add(self, knots: np.ndarray, rows: np.ndarray, now: float) -> np.ndarray:
        """Store the new chunk; return the blended rows at its knot times, (K, D)."""
        self._chunks = [(t, r) for t, r in self._chunks if t[-1] > now]     # chunks that still cover the future
        self._chunks.append((np.asarray(knots, float), np.asarray(rows, float)))
        total = np.zeros_like(self._chunks[-1][1])
        weight = np.zeros((len(knots), 1))
        for i, (t, r) in enumerate(self._chunks):
            covered = (knots >= t[0] - 1e-9) & (knots <= t[-1] + 1e-9)
            if not covered.any():
                continue
            w = math.exp(-self.coeff * i)
            values = np.column_stack([np.interp(knots, t, r[:, d]) for d in range(r.shape[1])])
            total[covered] += w * values[covered]
            weight[covered] += w
        return total / weight


@dataclass
class StepResult:
    """What :meth:`PolicyController.step` decided: ``command`` (None when every row was already
    past: nothing to send), the raw chunk and the blended rows it came from, and their times."""

    command: Command | None
    chunk: np.ndarray
    rows: np.ndarray
    knots: np.ndarray            # absolute s (the observation's clock)


class PolicyController:
    """One episode's execution state: the runtime (observation history), the blender, the
    commanded trajectory and the commander (gripper state, counters)."""

    def __init__(self, runtime, commander: ActionCommander, config: ControllerConfig | None = None) -> None:
        self.runtime = runtime
        self.commander = commander
        self.config = config or ControllerConfig(command=commander.config)
        if self.config.command != commander.config:
            raise PolicyConfigError("PolicyController: config.command differs from the commander's config")
        coeff = self.config.ensemble_coeff
        self.blender = ChunkBlender(coeff) if coeff is not None else None
        self.tracker = CommandedTrajectory()

    @classmethod
    def for_robot(cls, robot, runtime, command: CommandConfig | None = None, ensemble_coeff: float | None = 0.01,
                  max_input_age_s: float = DEFAULT_MAX_INPUT_AGE_S, arm: str = "") -> "PolicyController":
        command = command or CommandConfig()
        return cls(runtime, ActionCommander.for_robot(robot, command, arm),
                   ControllerConfig(command, ensemble_coeff, max_input_age_s))

    @property
    def n_joints(self) -> int:
        return self.commander.n_joints

    def reset(self) -> None:
        """New episode: empty observation history, no chunks, nothing commanded, gripper unknown."""
        self.runtime.reset()
        self.commander.reset()
        if self.blender is not None:
            self.blender.reset()
        self.tracker.clear()

    def hold(self) -> None:
        """Forget the commanded trajectory (the caller cancelled it; the controller holds)."""
        self.tracker.clear()

    def inputs_fresh(self, newest_stamps: Mapping[str, float | None], now: float) -> list[str]:
        """Names of the inputs older than ``max_input_age_s`` at ``now`` (never seen = stale)."""
        limit = self.config.max_input_age_s
        return [k for k, v in newest_stamps.items() if v is None or now - v > limit]

    def step(self, obs: Mapping[str, np.ndarray], stamp: float, now: float,
             q_measured: Sequence[float]) -> StepResult:
        """Infer a chunk from ``obs`` (taken at ``stamp``) and turn it into the command to send at
        ``now`` (same clock, ``now >= stamp``). ``q_measured`` starts the first trajectory."""
        chunk = self.runtime.act_chunk(obs)
        return self.command_chunk(chunk, stamp, now, q_measured)

    def command_chunk(self, chunk: np.ndarray, stamp: float, now: float, q_measured: Sequence[float]) -> StepResult:
        """The timing, blending and safety part of :meth:`step` for an already predicted chunk."""
        chunk = np.asarray(chunk, dtype=np.float64)
        if chunk.ndim != 2 or len(chunk) == 0:
            raise PolicyConfigError(f"chunk: expected (Ta >= 1, Da), got {chunk.shape}")
        knots = float(stamp) + self.config.action_dt_s * np.arange(1, len(chunk) + 1)
        rows = self.blender.add(knots, chunk, now) if self.blender is not None else chunk
        future = knots > now + MIN_LEAD_S
        if not future.any():
            return StepResult(None, chunk, rows, knots)
        state = self.tracker.state(now)
        q_start, v_start = state if state is not None else (np.asarray(q_measured, float), np.zeros(self.n_joints))
        # times as the trajectory message carries them (integer ns), so what was checked is what is sent
        times = np.round((knots[future] - now) * NS_PER_S) / NS_PER_S
        cmd = self.commander.command(rows[future], q_start, v_start, times=times)
        if cmd.has_trajectory:
            self.tracker.set(now, q_start, cmd.times, cmd.positions)
        return StepResult(cmd, chunk, rows, knots)


class ArmsController:
    """The execution path for a policy that drives one or more arms: ONE inference per observation
    (:class:`~dexsim_policy.runtime.PolicyRuntime`), then one :class:`PolicyController` per arm on
    its columns of the chunk (each arm's joints then its gripper, in the robot's arm order), with its
    own blending, commanded trajectory, safety filter and gripper state. A chunk with fewer arms'
    columns than the robot has arms drives the first arms (a one-arm policy on a bimanual robot)."""

    def __init__(self, runtime, arms: Sequence[PolicyController], names: Sequence[str],
                 replan_steps: int | None = None) -> None:
        if not arms or len(arms) != len(names):
            raise PolicyConfigError(f"ArmsController: {len(arms)} controllers for arms {list(names)}")
        self.runtime = runtime
        self.arms = list(arms)
        self.names = list(names)
        default = getattr(runtime, "default_replan_steps", 1)
        self.replan_steps = int(default if replan_steps in (None, 0) else replan_steps)
        if self.replan_steps < 1:
            raise PolicyConfigError(f"replan_steps: expected >= 1 (0 = the checkpoint's), got {replan_steps}")
        self._last_plan: float | None = None
        edges = np.cumsum([0] + [c.n_joints + 1 for c in self.arms])
        self.columns = [slice(int(a), int(b)) for a, b in zip(edges[:-1], edges[1:])]
        self.width = int(edges[-1])

    def __len__(self) -> int:
        return len(self.arms)

    def reset(self) -> None:
        """New episode for every arm (the runtime's history is shared, reset once)."""
        for c in self.arms:
            c.reset()
        self._last_plan = None

    def due(self, stamp: float) -> bool:
        """Whether the observation stamped ``stamp`` gets a new prediction: the first of an episode,
        then one every ``replan_steps`` action periods (the frames between only extend the history)."""
        if self._last_plan is None:
            return True
        return stamp >= self._last_plan + (self.replan_steps - 0.5) * self.arms[0].config.action_dt_s

    def infer(self, obs: Mapping[str, np.ndarray], stamp: float) -> np.ndarray | None:
        """Observe ``obs``; the predicted chunk when a re-plan is :meth:`due`, else None."""
        if not self.due(stamp):
            self.runtime.observe(obs)
            return None
        chunk = self.runtime.act_chunk(obs)
        self._last_plan = float(stamp)
        return chunk

    def hold(self) -> None:
        for c in self.arms:
            c.hold()

    def inputs_fresh(self, newest_stamps: Mapping[str, float | None], now: float) -> list[str]:
        return self.arms[0].inputs_fresh(newest_stamps, now)

    def step(self, obs: Mapping[str, np.ndarray], stamp: float, now: float,
             q_measured: Sequence[Sequence[float]]) -> list[StepResult]:
        """:meth:`PolicyController.step` for every arm from one inference; ``q_measured`` per arm.
        An empty list for a frame between re-plans (see :meth:`due`)."""
        chunk = self.infer(obs, stamp)
        return [] if chunk is None else self.command_chunk(chunk, stamp, now, q_measured)

    def command_chunk(self, chunk: np.ndarray, stamp: float, now: float,
                      q_measured: Sequence[Sequence[float]]) -> list[StepResult]:
        chunk = np.asarray(chunk, dtype=np.float64)
        if chunk.ndim != 2 or chunk.shape[1] != self.width:
            raise PolicyConfigError(f"chunk: expected (Ta, {self.width}) for arms {self.names}, got {chunk.shape}")
        return [c.command_chunk(chunk[:, cols], stamp, now, q)
                for c, cols, q in zip(self.arms, self.columns, q_measured)]

    @property
    def counters(self) -> dict:
        return _sum_dicts(c.commander.counters for c in self.arms)

    @property
    def violations(self) -> dict:
        return _sum_dicts(c.commander.violations for c in self.arms)


def _sum_dicts(dicts) -> dict:
    out: dict = {}
    for d in dicts:
        for k, v in d.items():
            out[k] = out.get(k, 0) + v
    return out


def make_controller(runtime, robot, *, ensemble_coeff: float | None | str = "checkpoint",
                    action_dt_s: float = DEFAULT_ACTION_DT_S, execute_steps: int = 0,
                    max_acceleration: float = DEFAULT_MAX_ACCELERATION, velocity_scale: float = 1.0,
                    workspace: bool = True, max_input_age_s: float = DEFAULT_MAX_INPUT_AGE_S,
                    arm: str = "") -> PolicyController:
    """The controller of ``runtime`` on ``robot`` from the settings the policy node declares as
    parameters (same names and defaults); the in-process evaluation builds it the same way.
    ``ensemble_coeff="checkpoint"``: the checkpoint's own temporal-ensembling coefficient."""
    coeff = default_ensemble_coeff(runtime.config) if ensemble_coeff == "checkpoint" else ensemble_coeff
    command = CommandConfig(action_dt_s=action_dt_s, execute_steps=execute_steps, max_acceleration=max_acceleration,
                            velocity_scale=velocity_scale, workspace=workspace)
    return PolicyController.for_robot(robot, runtime, command, coeff, max_input_age_s, arm)


def make_arms_controller(runtime, robot, replan_steps: int = 0, **settings) -> ArmsController:
    """The :class:`ArmsController` of ``runtime`` on ``robot``: as many of the robot's arms as the
    policy's action columns cover (6 joints + gripper each, ``robot.arms`` order), each with
    :func:`make_controller` ``settings`` (the policy node's parameters). ``replan_steps``: action
    periods between predictions (0 = the checkpoint's: 1 for ACT, ``n_action_steps`` for diffusion)."""
    width = len(runtime.config.action_indices)
    arms, used = [], 0
    for arm in robot.arms:
        if used >= width:
            break
        arms.append(arm)
        used += len(arm.joints) + 1
    if used != width:
        raise PolicyConfigError(f"checkpoint: {width} action columns do not split into arms of {robot.name!r} "
                                f"({[len(a.joints) + 1 for a in robot.arms]} columns each)")
    return ArmsController(runtime, [make_controller(runtime, robot, arm=a.name, **settings) for a in arms],
                          [a.name for a in arms], replan_steps)


def arms_observation(names: Sequence[str], positions: Sequence[float], arms) -> tuple[list[np.ndarray], list[float]] | None:
    """Per arm of ``arms`` (robot arm specs): (joint positions, finger gap) from a joint-state readout
    (:func:`joint_observation`); None when a joint of any of them is missing."""
    out = [joint_observation(names, positions, a.joints, a.gripper_joints) for a in arms]
    if any(o is None for o in out):
        return None
    return [o[0] for o in out], [o[1] for o in out]


def joint_observation(names: Sequence[str], positions: Sequence[float], joints: Sequence[str],
                      fingers: Sequence[str]) -> tuple[np.ndarray, float] | None:
    """(arm joint positions in ``joints`` order, finger gap = sum of |finger positions|) from a
    joint-state readout, as the data engine records them; None when a joint of this arm is missing."""
    index = {n: i for i, n in enumerate(names)}
    if any(j not in index for j in joints) or len(positions) != len(names):
        return None
    q = np.array([positions[index[j]] for j in joints], dtype=np.float64)
    gap = float(sum(abs(positions[index[f]]) for f in fingers if f in index))
    return q, gap


def policy_observation(left_rgb: np.ndarray, right_rgb: np.ndarray, q, gap) -> dict:
    """The runtime's observation dict as the data engine records it: RGB uint8 images,
    ``joint_pos`` (every arm's joints, concatenated), ``gripper`` (the first arm's finger gap) and
    ``gripper_arms`` (every arm's). ``q``/``gap``: one arm's array/float, or a list per arm."""
    qs = [np.asarray(x, np.float64) for x in q] if isinstance(q, (list, tuple)) else [np.asarray(q, np.float64)]
    gaps = np.atleast_1d(np.asarray(gap, np.float64))
    return {"left_rgb": left_rgb, "right_rgb": right_rgb, "joint_pos": np.concatenate(qs),
            "gripper": gaps[:1].copy(), "gripper_arms": gaps}


def default_ensemble_coeff(policy_config) -> float | None:
    """The checkpoint's own blending: ACT's ``temporal_ensemble_coeff`` (None for other policies,
    which execute their chunks as predicted)."""
    return getattr(policy_config, "temporal_ensemble_coeff", None)


__all__ = ["ArmsController", "ChunkBlender", "ControllerConfig", "PolicyController", "StepResult", "arms_observation",
           "joint_observation", "make_arms_controller", "make_controller", "policy_observation",
           "default_ensemble_coeff", "DEFAULT_ACTION_DT_S"]
