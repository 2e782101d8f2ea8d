"""Task interface (ManiSkill-style split): :meth:`Task.load` once per built world,
:meth:`Task.initialize_episode` per reset from a seeded numpy Generator, :meth:`Task.after_step`
after every control step, :meth:`Task.evaluate` -> dict with at least ``success`` (bool).

:meth:`Task.oracle` returns scripted key poses (world-frame ee targets + gripper closure per arm)
that solve the episode from the current state; the env turns them into joint actions with IK.
"""
from __future__ import annotations

import math
from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..robots.transforms import matrix_to_pose, pose_to_matrix
from ..world.builder import World

SCENES_DIR = Path(__file__).resolve().parent.parent / "scenes"
SETTLE_STEPS = 24                 # physics steps after placing objects (0.1 s at 240 Hz)
PLACEMENT_TRIES = 50              # rejection-sampling attempts per object


class TaskError(ValueError):
    """A task used with a robot/scene it does not support, or a malformed task config."""


@dataclass(frozen=True)
class Waypoint:
    """Scripted key pose: per arm a world-frame ee 7-vector target and gripper closure (0 open, 1 closed);
    ``steps`` control steps to reach it (linear in joint space)."""

    ee_poses: tuple[np.ndarray, ...]
    gripper: tuple[float, ...]
    steps: int


class Task(ABC):
    name: str = ""
    default_robot: str = ""
    robots: tuple[str, ...] = ()

    def __init__(self) -> None:
        self.world: World | None = None

    @classmethod
    def scene_path(cls, robot: str | None = None) -> Path:
        """The shipped default scene of this task for ``robot`` (default: the task's default robot)."""
        robot = robot or cls.default_robot
        if robot not in cls.robots:
            raise TaskError(f"robot: task {cls.name!r} supports {list(cls.robots)}, got {robot!r}")
        return SCENES_DIR / f"{cls.name}_{robot}.yaml"

    def load(self, world: World) -> None:
        """Bind to a freshly built world (once). Subclasses look up their objects here."""
        if world.scene.robot.name not in self.robots:
            raise TaskError(f"robot: task {self.name!r} supports {list(self.robots)}, got {world.scene.robot.name!r}")
        self.world = world

    @abstractmethod
    def initialize_episode(self, rng: np.random.Generator) -> None:
        """Randomize the episode (object poses etc.) and put the robot at home."""

    def after_step(self) -> None:
        """Update per-step bookkeeping (hold counters); called after each control step."""

    @abstractmethod
    def evaluate(self) -> dict:
        """At least ``success`` (bool); more task-specific diagnostics."""

    @abstractmethod
    def oracle(self) -> list[Waypoint]:
        """Scripted key poses that solve the episode from its initial state."""

    # ---------------------------------------------------------------- helpers
    def reset_robot(self) -> None:
        self.world.set_robot_joints(self.world.robot.spec.home, gripper=0.0)

    def place_objects(self, rng: np.random.Generator, names: list[str], xy_range: float,
                      yaw_range: float, clearance: float = 0.01) -> dict[str, np.ndarray]:
        """Jitter each object's scene pose by U(+-xy_range) m in x, y and U(+-yaw_range) rad in yaw,
        rejecting placements whose footprint circles overlap (with ``clearance`` m); then settle."""
        world = self.world
        placed: list[tuple[np.ndarray, float]] = []
        poses = {}
        for obj in world.scene.objects:
            nominal = np.asarray(obj.pose, float)
            radius = float(np.hypot(*world.object(obj.name).asset.extents[:2] * np.asarray(obj.scale[:2]))) / 2.0
            pose = nominal
            if obj.name in names:
                for _ in range(PLACEMENT_TRIES):
                    xy = nominal[:2] + rng.uniform(-xy_range, xy_range, 2)
                    if all(np.linalg.norm(xy - c) > radius + r + clearance for c, r in placed):
                        break
                yaw = rng.uniform(-yaw_range, yaw_range)
                pose = matrix_to_pose(_yaw_matrix(xy, nominal[2], yaw) @ pose_to_matrix(
                    np.concatenate([[0.0, 0.0, 0.0], nominal[3:]])))
            placed.append((pose[:2], radius))
            poses[obj.name] = pose
        world.reset_objects(poses)
        world.step(SETTLE_STEPS)
        return poses


def _yaw_matrix(xy, z: float, yaw: float) -> np.ndarray:
    tf = np.eye(4)
    c, s = math.cos(yaw), math.sin(yaw)
    tf[:3, :3] = [[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]]
    tf[:3, 3] = [xy[0], xy[1], z]
    return tf


def top_down_pose(position, closing_yaw: float) -> np.ndarray:
    """ee 7-vector with the approach axis (+x) pointing down and the fingers closing along the
    horizontal direction at ``closing_yaw`` (rad)."""
    c, s = math.cos(closing_yaw), math.sin(closing_yaw)
    x = np.array([0.0, 0.0, -1.0])
    y = np.array([c, s, 0.0])
    tf = np.eye(4)
    tf[:3, :3] = np.column_stack([x, y, np.cross(x, y)])
    tf[:3, 3] = position
    return matrix_to_pose(tf)


SQUARE_TOLERANCE = 0.005          # m: footprints whose sides differ less are closed across either side


def closing_yaw(world, arm: int, object_pose, extents) -> float:
    """Yaw (rad) of the finger closing direction for a top-down grasp: across the narrower side of
    the footprint (either side when square), of the equivalent choices the one nearest the arm's
    current closing direction (least wrist rotation)."""
    yaw = yaw_of(object_pose) + (0.0 if extents[0] <= extents[1] else math.pi / 2.0)
    turns = 4 if abs(extents[0] - extents[1]) < SQUARE_TOLERANCE else 2
    ee_y = pose_to_matrix(world.ee_pose(arm))[:3, 1]
    current = math.atan2(ee_y[1], ee_y[0])
    options = [yaw + k * 2.0 * math.pi / turns for k in range(turns)]
    return math.remainder(min(options, key=lambda a: abs(math.remainder(a - current, 2.0 * math.pi))), 2.0 * math.pi)


def yaw_of(pose7) -> float:
    rot = pose_to_matrix(np.asarray(pose7, float))[:3, :3]
    return math.atan2(rot[1, 0], rot[0, 0])
