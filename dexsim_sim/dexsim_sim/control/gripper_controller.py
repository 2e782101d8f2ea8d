"""ROS-free parallel-gripper controller with the semantics of ros2_control's gripper_action_controller.

A ``control_msgs/GripperCommand`` goal is a finger gap (m) and a ``max_effort`` (N; 0 = no limit).
As on the real controller, the gap commanded to the fingers is the goal clamped to the gripper's
range (the joints' own limits), while success is judged against the goal as sent: ``position=0.0``
("close fully") on a gripper whose fingers stop at 3 cm closes until the fingers stall and then
succeeds with ``stalled`` (an object in the way stalls them earlier). :attr:`max_effort` is the
force limit the owner applies to the finger motors. Each control period the owner calls
:meth:`GripperController.update` with the measured gap, its rate and the finger effort; the goal

- succeeds with ``reached_goal`` once ``|gap - target| < goal_tolerance``;
- is ``stalled`` once the gap has not moved faster than ``stall_velocity_threshold`` for
  ``stall_timeout`` s while not at the target (e.g. closed on an object): it then succeeds when
  ``allow_stalling`` (the useful behaviour for grasping) and aborts otherwise.

A new goal preempts (aborts) the active one; cancel holds the measured gap. Not thread-safe: the
owner serialises calls.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

from ..robots.registry import RobotSpec
from .trajectory_controller import ControllerConfigError, GoalState, UnknownGoalError

class GripperGoalError(ValueError):
    """A gripper goal that cannot be executed (a position or effort that is not finite, a negative effort)."""


@dataclass(frozen=True)
class GripperControllerConfig:
    closed: float                              # m, finger gap fully closed
    open: float                                # m, finger gap fully open
    goal_tolerance: float = 0.002              # m
    stall_velocity_threshold: float = 0.001    # m/s
    stall_timeout: float = 0.5                 # s
    allow_stalling: bool = True

    def __post_init__(self) -> None:
        if not (math.isfinite(self.closed) and math.isfinite(self.open) and 0.0 <= self.closed < self.open):
            raise ControllerConfigError(f"closed/open: need 0 <= closed < open (m), got {self.closed}, {self.open}")
        for key in ("goal_tolerance", "stall_velocity_threshold", "stall_timeout"):
            v = getattr(self, key)
            if not (isinstance(v, (int, float)) and math.isfinite(v) and v > 0):
                raise ControllerConfigError(f"{key}: must be a positive number, got {v!r}")

    @classmethod
    def from_robot(cls, robot: RobotSpec, **overrides) -> "GripperControllerConfig":
        return cls(closed=robot.gripper_closed, open=robot.gripper_open, **overrides)


@dataclass(frozen=True)
class GripperStatus:
    """``control_msgs/GripperCommand`` result/feedback fields plus the goal state."""

    goal_id: int
    state: GoalState
    position: float        # m, measured gap
    effort: float          # N, measured
    stalled: bool
    reached_goal: bool
    message: str = ""

    @property
    def done(self) -> bool:
        return self.state is not GoalState.ACTIVE


class GripperController:
    """Drives the finger gap of one gripper towards goal gaps; holds the gap when idle."""

    def __init__(self, config: GripperControllerConfig, initial_gap: float | None = None) -> None:
        self.config = config
        self._gap = config.open if initial_gap is None else float(initial_gap)
        self._hold = self._gap
        self._rate = 0.0
        self._effort = 0.0
        self._now = 0.0
        self._goals: dict[int, GripperStatus] = {}
        self._active: int | None = None
        self._target = self._gap
        self._goal = self._gap
        self._max_effort = 0.0
        self._last_movement = 0.0
        self._next_id = 1

    @property
    def active_goal(self) -> int | None:
        return self._active

    @property
    def target(self) -> float:
        """The gap (m) currently commanded."""
        return self._target if self._active is not None else self._hold

    @property
    def max_effort(self) -> float:
        """Effort limit (N) of the active goal; 0 = none (the joint's own limit applies)."""
        return self._max_effort if self._active is not None else 0.0

    def validate(self, position: float, max_effort: float) -> None:
        """Raise :class:`GripperGoalError` for a gap or effort that is not finite, or a negative effort.
        A gap outside [closed, open] is valid: the fingers go as far as they can (see the module doc)."""
        if not math.isfinite(position):
            raise GripperGoalError(f"command.position: must be a finite gap (m), got {position}")
        if not (math.isfinite(max_effort) and max_effort >= 0.0):
            raise GripperGoalError(f"command.max_effort: must be >= 0 N (0 = no limit), got {max_effort}")

    def reset(self, gap: float, now: float | None = None, reason: str = "controller reset") -> None:
        """Hold the measured gap; an active goal is aborted."""
        self._gap = float(gap)
        if now is not None:
            self._now = float(now)
        self._finish(GoalState.ABORTED, stalled=False, reached=False, message=reason)
        self._hold = self._gap

    def start(self, position: float, max_effort: float, now: float) -> int:
        """Validate and activate a goal (preempting the active one); returns its goal id."""
        self.validate(position, max_effort)
        self._finish(GoalState.ABORTED, stalled=False, reached=False, message="preempted by a new goal")
        goal_id = self._next_id
        self._next_id += 1
        cfg = self.config
        self._goal = float(position)
        self._target = min(max(self._goal, cfg.closed), cfg.open)
        self._max_effort = float(max_effort)
        self._last_movement = float(now)
        self._active = goal_id
        self._goals[goal_id] = GripperStatus(goal_id, GoalState.ACTIVE, self._gap, self._effort, False, False)
        return goal_id

    def cancel(self, goal_id: int) -> GripperStatus:
        self._status(goal_id)
        if self._active == goal_id:
            self._finish(GoalState.CANCELED, stalled=False, reached=False, message="canceled: holding the gap")
        return self._goals[goal_id]

    def status(self, goal_id: int) -> GripperStatus:
        return self._status(goal_id)

    def forget(self, goal_id: int) -> None:
        if goal_id != self._active:
            self._goals.pop(goal_id, None)

    def _status(self, goal_id: int) -> GripperStatus:
        if goal_id not in self._goals:
            raise UnknownGoalError(f"goal_id: no gripper goal {goal_id}")
        return self._goals[goal_id]

    def _finish(self, state: GoalState, stalled: bool, reached: bool, message: str) -> None:
        if self._active is None:
            return
        self._goals[self._active] = GripperStatus(self._active, state, self._gap, self._effort, stalled, reached, message)
        self._hold = self._target if reached else self._gap
        self._active = None

    def update(self, now: float, gap: float, gap_rate: float, effort: float = 0.0) -> float:
        """One control period: measured gap (m), its rate (m/s) and effort (N) in; the gap target out."""
        self._gap, self._rate, self._effort, self._now = float(gap), float(gap_rate), float(effort), float(now)
        if self._active is None:
            return self._hold
        cfg = self.config
        goal_id = self._active
        if abs(self._gap - self._goal) < cfg.goal_tolerance:
            self._finish(GoalState.SUCCEEDED, stalled=False, reached=True, message="")
            return self._target
        if abs(self._rate) >= cfg.stall_velocity_threshold:
            self._last_movement = self._now
        elif self._now - self._last_movement > cfg.stall_timeout:
            if cfg.allow_stalling:
                self._finish(GoalState.SUCCEEDED, stalled=True, reached=False,
                             message="stalled before the goal (e.g. holding an object)")
                self._hold = self._target   # keep squeezing, as a real gripper does
            else:
                self._finish(GoalState.ABORTED, stalled=True, reached=False, message="stalled before the goal")
            return self._hold
        self._goals[goal_id] = GripperStatus(goal_id, GoalState.ACTIVE, self._gap, self._effort, False, False)
        return self._target
