"""Pure-numpy forward kinematics and geometric Jacobians of a URDF chain (no PyBullet needed).

All functions accept a batch: ``q`` of shape ``(n,)`` or ``(B, n)``; results gain the same
leading batch shape. Fixed joints are folded into the next movable joint's origin, so an FK call
costs one small batched matmul per movable joint.
"""
from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from .registry import BASE_LINK, RobotSpec
from .transforms import axis_angle_to_matrix, make_transform, rpy_to_matrix

MOVABLE = ("revolute", "prismatic", "continuous")


class KinematicsError(ValueError):
    """The URDF chain requested does not exist or is malformed."""


@dataclass(frozen=True)
class UrdfJoint:
    name: str
    kind: str
    parent: str
    child: str
    origin: np.ndarray  # 4x4 parent link -> joint frame at q = 0
    axis: np.ndarray    # unit axis in the joint frame
    lower: float
    upper: float
    velocity: float
    effort: float


def _floats(text: str | None, default: tuple[float, ...]) -> np.ndarray:
    return np.array([float(v) for v in text.split()]) if text else np.array(default, dtype=float)


def parse_urdf_joints(urdf: str | Path) -> dict[str, UrdfJoint]:
    """Every joint of a URDF file, keyed by name."""
    root = ET.parse(str(urdf)).getroot()
    joints = {}
    for el in root.findall("joint"):
        origin = el.find("origin")
        xyz = _floats(origin.get("xyz") if origin is not None else None, (0.0, 0.0, 0.0))
        rpy = _floats(origin.get("rpy") if origin is not None else None, (0.0, 0.0, 0.0))
        axis_el = el.find("axis")
        axis = _floats(axis_el.get("xyz") if axis_el is not None else None, (1.0, 0.0, 0.0))
        limit = el.find("limit")
        kind = el.get("type")

        def lim(key: str, default: float, limit=limit) -> float:
            return float(limit.get(key, default)) if limit is not None else default

        lower, upper = (lim("lower", 0.0), lim("upper", 0.0)) if kind != "continuous" else (-np.inf, np.inf)
        joints[el.get("name")] = UrdfJoint(
            name=el.get("name"), kind=kind, parent=el.find("parent").get("link"), child=el.find("child").get("link"),
            origin=make_transform(rpy_to_matrix(rpy), xyz), axis=axis / np.linalg.norm(axis),
            lower=lower, upper=upper, velocity=lim("velocity", 0.0), effort=lim("effort", 0.0))
    return joints


class KinematicChain:
    """The serial chain ``base_link -> tip_link`` of a URDF, with FK and Jacobians in the base frame."""

    def __init__(self, joints: list[UrdfJoint], base_link: str, tip_link: str) -> None:
        self.base_link = base_link
        self.tip_link = tip_link
        self.joints = tuple(j for j in joints if j.kind in MOVABLE)
        self.joint_names = tuple(j.name for j in self.joints)
        self.lower = np.array([j.lower for j in self.joints])
        self.upper = np.array([j.upper for j in self.joints])
        self.velocity = np.array([j.velocity for j in self.joints])
        self._revolute = np.array([j.kind != "prismatic" for j in self.joints])
        # Fold fixed joints: pre[i] = transform from the previous movable joint frame (after its
        # motion) to movable joint i's frame at q = 0; ``tip`` = last movable frame -> tip link.
        pre: list[np.ndarray] = []
        acc = np.eye(4)
        for j in joints:
            acc = acc @ j.origin
            if j.kind in MOVABLE:
                pre.append(acc)
                acc = np.eye(4)
        self._pre = np.array(pre) if pre else np.zeros((0, 4, 4))
        self._tip = acc
        self._axes = np.array([j.axis for j in self.joints]) if self.joints else np.zeros((0, 3))
        # Each movable joint's frame sits after a fixed prefix; links between are named for fk_link.
        self._link_after: dict[str, tuple[int, np.ndarray]] = {base_link: (-1, np.eye(4))}
        acc = np.eye(4)
        index = -1
        for j in joints:
            if j.kind in MOVABLE:
                index += 1
                acc = np.eye(4)
            else:
                acc = acc @ j.origin
            self._link_after[j.child] = (index, acc.copy())

    @classmethod
    def from_urdf(cls, urdf: str | Path, base_link: str, tip_link: str) -> "KinematicChain":
        return _chain_cached(str(urdf), base_link, tip_link)

    @property
    def dof(self) -> int:
        return len(self.joints)

    @property
    def link_names(self) -> tuple[str, ...]:
        return tuple(self._link_after)

    def _joint_frames(self, q: np.ndarray) -> tuple[list[np.ndarray], np.ndarray]:
        """World frame of every movable joint after its motion, ``(B, 4, 4)`` each, and the tip."""
        batch = q.shape[0]
        tf = np.broadcast_to(np.eye(4), (batch, 4, 4)).copy()
        frames = []
        for i in range(self.dof):
            tf = tf @ self._pre[i]
            motion = np.broadcast_to(np.eye(4), (batch, 4, 4)).copy()
            if self._revolute[i]:
                motion[:, :3, :3] = axis_angle_to_matrix(self._axes[i], q[:, i])
            else:
                motion[:, :3, 3] = self._axes[i] * q[:, i, None]
            tf = tf @ motion
            frames.append(tf)
        return frames, tf @ self._tip

    def _as_batch(self, q) -> tuple[np.ndarray, bool]:
        q = np.asarray(q, dtype=float)
        single = q.ndim == 1
        q2 = q[None] if single else q
        if q2.ndim != 2 or q2.shape[1] != self.dof:
            raise KinematicsError(f"q: expected shape ({self.dof},) or (B, {self.dof}), got {q.shape}")
        return q2, single

    def fk(self, q) -> np.ndarray:
        """4x4 pose of the tip link in the base frame, ``(4, 4)`` or ``(B, 4, 4)``."""
        q2, single = self._as_batch(q)
        _, tip = self._joint_frames(q2)
        return tip[0] if single else tip

    def fk_link(self, q, link: str) -> np.ndarray:
        """4x4 pose of any link on the chain (e.g. the flange) in the base frame."""
        if link not in self._link_after:
            raise KinematicsError(f"link: {link!r} is not on the chain {self.base_link} -> {self.tip_link}; "
                                  f"chain links are {list(self._link_after)}")
        q2, single = self._as_batch(q)
        index, offset = self._link_after[link]
        if index < 0:
            out = np.broadcast_to(offset, (q2.shape[0], 4, 4)).copy()
        else:
            frames, _ = self._joint_frames(q2)
            out = frames[index] @ offset
        return out[0] if single else out

    def fk_and_jacobian(self, q) -> tuple[np.ndarray, np.ndarray]:
        """Tip pose and the geometric Jacobian ``(6, n)``: rows 0-2 linear (m per unit), 3-5 angular, base frame."""
        q2, single = self._as_batch(q)
        frames, tip = self._joint_frames(q2)
        jac = np.zeros((q2.shape[0], 6, self.dof))
        p_tip = tip[:, :3, 3]
        for i, frame in enumerate(frames):
            axis_world = frame[:, :3, :3] @ self._axes[i]
            if self._revolute[i]:
                jac[:, :3, i] = np.cross(axis_world, p_tip - frame[:, :3, 3])
                jac[:, 3:, i] = axis_world
            else:
                jac[:, :3, i] = axis_world
        return (tip[0], jac[0]) if single else (tip, jac)

    def jacobian(self, q) -> np.ndarray:
        return self.fk_and_jacobian(q)[1]

    def clip(self, q) -> np.ndarray:
        return np.clip(q, self.lower, self.upper)

    def within_limits(self, q, tol: float = 1e-9) -> bool:
        q = np.asarray(q, dtype=float)
        return bool(np.all(q >= self.lower - tol) and np.all(q <= self.upper + tol))


@lru_cache(maxsize=64)
def _chain_cached(urdf: str, base_link: str, tip_link: str) -> KinematicChain:
    joints = parse_urdf_joints(urdf)
    by_child = {j.child: j for j in joints.values()}
    chain: list[UrdfJoint] = []
    link = tip_link
    while link != base_link:
        if link not in by_child:
            raise KinematicsError(f"tip_link/base_link: no chain from {base_link!r} to {tip_link!r} in {urdf}")
        joint = by_child[link]
        chain.append(joint)
        link = joint.parent
    return KinematicChain(chain[::-1], base_link, tip_link)


def arm_chain(robot: RobotSpec, arm: str = "") -> KinematicChain:
    """The chain ``base_link -> ee_link`` of one arm of a registry ``RobotSpec``."""
    spec = robot.arm(arm)
    chain = KinematicChain.from_urdf(robot.urdf, BASE_LINK, spec.ee_link)
    if chain.joint_names != spec.joints:
        raise KinematicsError(f"arm {spec.name!r} of {robot.name}: URDF chain joints {chain.joint_names} differ "
                              f"from the registry's {spec.joints}")
    return chain
