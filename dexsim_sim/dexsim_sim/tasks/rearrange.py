"""Bimanual table rearrangement: put each target object into its region.

Pairs: the scene's ``role: target`` objects and ``role: region`` objects, matched in order; each
pair is served by the arm on its side (left arm for y > 0 in the robot base frame).

Randomized per episode (seeded): every target's x, y by U(+-``xy_range``) m and yaw by
U(+-``yaw_range``) rad around its scene pose (regions stay put); the robot starts at home with
both grippers open.

Success: every target's base centre lies within its region's footprint radius minus ``margin``
(horizontally), no higher than ``max_rest_height`` m above the region's top and touches no part of
the robot (released).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .base import Task, TaskError, Waypoint, closing_yaw, top_down_pose


@dataclass(frozen=True)
class RearrangeConfig:
    xy_range: float = 0.03            # m
    yaw_range: float = math.pi / 2.0  # rad
    margin: float = 0.02              # m inside the region's radius
    max_rest_height: float = 0.03     # m above the region's top
    grasp_depth: float = 0.02         # m below the object's top
    carry_height: float = 0.12        # m above the table while carrying
    release_clearance: float = 0.015  # m between the object's bottom and the region's top at release

    def __post_init__(self) -> None:
        for key in ("xy_range", "yaw_range", "margin", "max_rest_height", "grasp_depth", "carry_height",
                    "release_clearance"):
            v = getattr(self, key)
            if not (isinstance(v, (int, float)) and math.isfinite(v) and v >= 0):
                raise TaskError(f"RearrangeConfig.{key}: must be a non-negative number, got {v!r}")


class RearrangeTask(Task):
    name = "rearrange"
    default_robot = "wx250s_bimanual"
    robots = ("wx250s_bimanual",)

    def __init__(self, config: RearrangeConfig = RearrangeConfig()) -> None:
        super().__init__()
        self.config = config
        self.pairs: list[tuple[str, str, int]] = []    # (object, region, arm index)

    def load(self, world) -> None:
        super().load(world)
        targets = [o for o in world.scene.objects if o.role == "target"]
        regions = [o for o in world.scene.objects if o.role == "region"]
        if not targets or len(targets) != len(regions):
            raise TaskError(f"scene.objects: rearrange needs as many 'target' as 'region' objects, got "
                            f"{len(targets)} and {len(regions)}")
        base_inv = np.linalg.inv(world.base_matrix())
        arm_names = [a.name for a in world.robot.spec.arms]
        self.pairs = []
        for obj, region in zip(targets, regions):
            y = (base_inv @ np.array([*obj.pose[:3], 1.0]))[1]
            self.pairs.append((obj.name, region.name, arm_names.index("left" if y > 0 else "right")))
        arms = [a for _, _, a in self.pairs]
        if len(set(arms)) != len(arms):
            raise TaskError(f"scene.objects: one target per arm side expected, got arms {arms}")

    def initialize_episode(self, rng: np.random.Generator) -> None:
        self.reset_robot()
        self.place_objects(rng, [o for o, _, _ in self.pairs], self.config.xy_range, self.config.yaw_range)

    def _region(self, region: str) -> tuple[np.ndarray, float, float]:
        """Region centre (xy), footprint radius, top height (m)."""
        handle = self.world.object(region)
        pose = self.world.object_pose(region)
        ext = handle.asset.extents * handle.scale
        return pose[:2], float(min(ext[0], ext[1]) / 2.0), float(pose[2] + ext[2])

    def evaluate(self) -> dict:
        out, ok = {}, True
        for obj, region, _ in self.pairs:
            centre, radius, top = self._region(region)
            pose = self.world.object_pose(obj)
            dist = float(np.linalg.norm(pose[:2] - centre))
            released = not self.world.contacts(self.world.robot.body, self.world.object(obj).body)
            inside = (dist <= radius - self.config.margin and pose[2] <= top + self.config.max_rest_height
                      and released)
            out[f"{obj}_distance"] = dist
            out[f"{obj}_in_region"] = bool(inside)
            ok = ok and inside
        out["success"] = ok
        return out

    def oracle(self) -> list[Waypoint]:
        """Both arms at once: above object, down, close, lift, over the region, down, open, up."""
        cfg = self.config
        n_arms = len(self.world.robot.spec.arms)
        stages: list[list[np.ndarray]] = [[None] * n_arms for _ in range(8)]
        for obj, region, arm in self.pairs:
            pose = self.world.object_pose(obj)
            handle = self.world.object(obj)
            ext = handle.asset.extents * handle.scale
            grasp_z = pose[2] + max(ext[2] - cfg.grasp_depth, ext[2] / 2.0)
            closing = closing_yaw(self.world, arm, pose, ext)
            centre, _, top = self._region(region)
            place_z = top + cfg.release_clearance + (grasp_z - pose[2])
            carry_z = cfg.carry_height + grasp_z
            at = lambda xy, z: top_down_pose([xy[0], xy[1], z], closing)  # noqa: E731
            for i, pose_i in enumerate([at(pose, carry_z), at(pose, grasp_z), at(pose, grasp_z), at(pose, carry_z),
                                        at(centre, carry_z), at(centre, place_z), at(centre, place_z),
                                        at(centre, carry_z)]):
                stages[i][arm] = pose_i
        for stage in stages:
            for a in range(n_arms):
                if stage[a] is None:
                    raise TaskError(f"arm {a}: no target object is served by it")
        grips = [0.0, 0.0, 1.0, 1.0, 1.0, 1.0, 0.0, 0.0]
        steps = [12, 8, 6, 8, 10, 8, 5, 6]
        return [Waypoint(tuple(s), (g,) * n_arms, k) for s, g, k in zip(stages, grips, steps)]
