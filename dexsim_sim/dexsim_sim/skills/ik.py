"""Numerical inverse kinematics on the pure-numpy FK: batched damped least squares over several seeds.

The current configuration (when given) and ``num_seeds`` configurations drawn uniformly within the
joint limits from ``np.random.default_rng(config.seed)`` are iterated together; the solution is the
converged seed closest to the current configuration. Joint limits hold at every iterate (clipping).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..robots.kinematics import KinematicChain, arm_chain
from ..robots.registry import RobotSpec
from ..robots.transforms import pose_to_matrix, rotation_error


STALL_ITERATIONS = 12     # iterations without progress before a seed is replaced by a random one
STALL_IMPROVEMENT = 0.01  # relative decrease of the squared error that counts as progress


class UnreachablePoseError(RuntimeError):
    """No seed converged; carries the target pose (4x4, base frame) and the best residual."""

    def __init__(self, pose: np.ndarray, position_error: float, orientation_error: float, best_q: np.ndarray):
        self.pose = np.asarray(pose, dtype=float)
        self.position_error = float(position_error)        # m
        self.orientation_error = float(orientation_error)  # rad
        self.best_q = np.asarray(best_q, dtype=float)
        super().__init__(f"unreachable pose at {np.round(self.pose[:3, 3], 4).tolist()} m: best residual "
                         f"{self.position_error * 1000:.2f} mm, {math.degrees(self.orientation_error):.2f} deg")


@dataclass(frozen=True)
class IKConfig:
    """Solver settings; tolerances in m and rad, ``max_step`` in rad (or m) per iteration."""

    num_seeds: int = 12
    max_iterations: int = 200
    damping: float = 1e-3               # bias of the LM damping (see solve)
    position_tolerance: float = 1e-4
    orientation_tolerance: float = 1e-3
    orientation_weight: float = 0.3      # m per rad: how orientation error weighs against position error
    max_step: float = 0.4
    seed: int = 0

    def __post_init__(self) -> None:
        for name in ("num_seeds", "max_iterations"):
            value = getattr(self, name)
            if not (isinstance(value, int) and value >= 1):
                raise ValueError(f"IKConfig.{name}: must be an int >= 1, got {value!r}")
        for name in ("damping", "position_tolerance", "orientation_tolerance", "orientation_weight", "max_step"):
            value = getattr(self, name)
            if not (isinstance(value, (int, float)) and math.isfinite(value) and value > 0):
                raise ValueError(f"IKConfig.{name}: must be a positive number, got {value!r}")


@dataclass(frozen=True)
class IKResult:
    q: np.ndarray
    position_error: float      # m
    orientation_error: float   # rad
    iterations: int


class IKSolver:
    """IK for one :class:`KinematicChain` (target poses in the chain's base frame)."""

    def __init__(self, chain: KinematicChain, config: IKConfig = IKConfig()) -> None:
        self.chain = chain
        self.config = config

    def _random(self, rng: np.random.Generator, count: int) -> np.ndarray:
        lower = np.where(np.isfinite(self.chain.lower), self.chain.lower, -np.pi)
        upper = np.where(np.isfinite(self.chain.upper), self.chain.upper, np.pi)
        return rng.uniform(lower, upper, size=(count, self.chain.dof))

    def _seeds(self, rng: np.random.Generator, q_current: np.ndarray | None) -> np.ndarray:
        seeds = self._random(rng, self.config.num_seeds)
        if q_current is not None:
            seeds = np.vstack([self.chain.clip(np.asarray(q_current, dtype=float))[None], seeds])
        return seeds

    def solve(self, target, q_current=None, position_only: bool = False) -> IKResult:
        """Joint values reaching ``target`` (4x4 or ``(x, y, z, qx, qy, qz, qw)``, base frame).

        Raises :class:`UnreachablePoseError` when no seed gets within the tolerances.
        """
        cfg = self.config
        target_tf = np.asarray(target, dtype=float)
        if target_tf.shape == (7,):
            target_tf = pose_to_matrix(target_tf)
        if target_tf.shape != (4, 4):
            raise ValueError(f"target: expected a 4x4 transform or a 7-vector pose, got shape {target_tf.shape}")
        rng = np.random.default_rng(cfg.seed)
        q = self._seeds(rng, q_current)
        batch = q.shape[0]
        best_cost = np.full(batch, np.inf)
        stalled = np.zeros(batch, dtype=int)
        weights = np.array([1.0, 1.0, 1.0] + [0.0 if position_only else cfg.orientation_weight] * 3)
        for iteration in range(1, cfg.max_iterations + 1):
            tf, jac = self.chain.fk_and_jacobian(q)
            pos_vec = target_tf[:3, 3] - tf[:, :3, 3]
            rot_vec = rotation_error(target_tf[:3, :3], tf[:, :3, :3])
            pos_err = np.linalg.norm(pos_vec, axis=1)
            rot_err = np.zeros(batch) if position_only else np.linalg.norm(rot_vec, axis=1)
            done = (pos_err < cfg.position_tolerance) & (rot_err < cfg.orientation_tolerance)
            if np.any(done):
                break
            err = np.concatenate([pos_vec, rot_vec], axis=1) * weights
            cost = np.sum(err * err, axis=1)
            improved = cost < best_cost * (1.0 - STALL_IMPROVEMENT)
            best_cost = np.where(improved, cost, best_cost)
            stalled = np.where(improved, 0, stalled + 1)
            jw = jac * weights[None, :, None]
            # Levenberg-Marquardt damping after Sugihara (2011): lambda = |e|^2 + bias.
            lam = np.sum(err * err, axis=1) + cfg.damping ** 2
            jjt = jw @ np.swapaxes(jw, 1, 2) + lam[:, None, None] * np.eye(6)
            dq = np.einsum("bji,bj->bi", jw, np.linalg.solve(jjt, err[..., None])[..., 0])
            norm = np.linalg.norm(dq, axis=1, keepdims=True)
            dq *= np.minimum(1.0, cfg.max_step / np.maximum(norm, 1e-12))
            q = self.chain.clip(q + dq)
            restart = stalled > STALL_ITERATIONS
            if np.any(restart):  # a seed stuck in a local minimum (often at a joint limit) starts afresh
                q[restart] = self._random(rng, int(restart.sum()))
                best_cost[restart] = np.inf
                stalled[restart] = 0
        else:
            # Final evaluation after the last update.
            tf = self.chain.fk(q)
            pos_err = np.linalg.norm(target_tf[:3, 3] - tf[:, :3, 3], axis=1)
            rot_err = (np.zeros(batch) if position_only
                       else np.linalg.norm(rotation_error(target_tf[:3, :3], tf[:, :3, :3]), axis=1))
            done = (pos_err < cfg.position_tolerance) & (rot_err < cfg.orientation_tolerance)
        if not np.any(done):
            best = int(np.argmin(pos_err + cfg.orientation_weight * rot_err))
            raise UnreachablePoseError(target_tf, pos_err[best], rot_err[best], q[best])
        candidates = np.flatnonzero(done)
        if q_current is not None:
            distance = np.linalg.norm(q[candidates] - np.asarray(q_current, dtype=float)[None], axis=1)
            pick = int(candidates[np.argmin(distance)])
        else:
            pick = int(candidates[0])
        return IKResult(q[pick].copy(), float(pos_err[pick]), float(rot_err[pick]), iteration)


def solve_ik(robot: RobotSpec, target, arm: str = "", q_current=None, config: IKConfig = IKConfig(),
             position_only: bool = False) -> IKResult:
    """IK of one arm of a registry robot; ``target`` is the ee link pose in the robot's base_link frame."""
    return IKSolver(arm_chain(robot, arm), config).solve(target, q_current, position_only)
