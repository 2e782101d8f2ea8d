"""Numerical inverse kinematics on the pure-numpy FK: batched damped least squares over several seeds.

The current configuration (when given) and ``num_seeds`` configurations drawn uniformly within the
joint limits from ``np.random.default_rng(config.seed)`` are iterated as one batch; the current
configuration first runs alone for up to ``CURRENT_FIRST_ITERATIONS`` (a small Cartesian step
converges in a few), and a seed stops moving once it converges. Which solution is returned:

- with ``q_current``: the solution reached from ``q_current`` itself (the continuous branch) as
  soon as it converges; if that seed stalls (it is then replaced by a random one) or never
  converges, the converged solution closest to ``q_current`` (Euclidean joint distance) after the
  whole iteration budget. ``max_joint_jump`` (rad) rejects solutions that move any joint further
  than that from ``q_current``: Cartesian paths solved step by step stay in one IK branch, or fail
  with :class:`UnreachablePoseError` saying so;
- without ``q_current``: the first seed to converge.

Joint limits hold at every iterate (clipping).
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
CURRENT = 0               # index of the q_current seed in the batch (when given)
CURRENT_FIRST_ITERATIONS = 20   # the q_current seed iterates alone this long (at most half the budget)


class UnreachablePoseError(RuntimeError):
    """No acceptable solution: no seed converged, or (``reason`` says so) every converged one
    jumps further than ``max_joint_jump``. Carries the target pose (4x4, base frame), the residual
    of ``best_q`` and ``best_q`` (the best residual, or the least-jumping converged solution)."""

    def __init__(self, pose: np.ndarray, position_error: float, orientation_error: float, best_q: np.ndarray,
                 reason: str = "") -> None:
        self.pose = np.asarray(pose, dtype=float)
        self.position_error = float(position_error)        # m
        self.orientation_error = float(orientation_error)  # rad
        self.best_q = np.asarray(best_q, dtype=float)
        self.reason = reason
        message = (f"unreachable pose at {np.round(self.pose[:3, 3], 4).tolist()} m: best residual "
                   f"{self.position_error * 1000:.2f} mm, {math.degrees(self.orientation_error):.2f} deg")
        super().__init__(f"{message} ({reason})" if reason else message)


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

    def _errors(self, target_tf: np.ndarray, q: np.ndarray, position_only: bool):
        """Pose error vectors (position m, rotation rad) at ``q`` (B, n) and the Jacobians."""
        tf, jac = self.chain.fk_and_jacobian(q)
        pos_vec = target_tf[:3, 3] - tf[:, :3, 3]
        rot_vec = np.zeros_like(pos_vec) if position_only else rotation_error(target_tf[:3, :3], tf[:, :3, :3])
        return pos_vec, rot_vec, jac

    def solve(self, target, q_current=None, position_only: bool = False,
              max_joint_jump: float | None = None) -> IKResult:
        """Joint values reaching ``target`` (4x4 or ``(x, y, z, qx, qy, qz, qw)``, base frame).

        ``max_joint_jump`` (rad, needs ``q_current``): the largest change of any joint from
        ``q_current`` a solution may have. Raises :class:`UnreachablePoseError` when no seed gets
        within the tolerances, or no converged solution is within ``max_joint_jump``.
        """
        cfg = self.config
        target_tf = np.asarray(target, dtype=float)
        if target_tf.shape == (7,):
            target_tf = pose_to_matrix(target_tf)
        if target_tf.shape != (4, 4):
            raise ValueError(f"target: expected a 4x4 transform or a 7-vector pose, got shape {target_tf.shape}")
        if max_joint_jump is not None:
            if q_current is None:
                raise ValueError("max_joint_jump: needs q_current (the configuration to stay close to)")
            if not (math.isfinite(max_joint_jump) and max_joint_jump > 0):
                raise ValueError(f"max_joint_jump: must be a positive number (rad), got {max_joint_jump!r}")
        q_ref = None if q_current is None else np.asarray(q_current, dtype=float)
        rng = np.random.default_rng(cfg.seed)
        seeds = self._random(rng, cfg.num_seeds)
        q = seeds if q_ref is None else np.vstack([self.chain.clip(q_ref)[None], seeds])
        batch = q.shape[0]
        weights = np.array([1.0, 1.0, 1.0] + [0.0 if position_only else cfg.orientation_weight] * 3)
        converged = np.zeros(batch, dtype=bool)
        pos_err = np.full(batch, np.inf)
        rot_err = np.full(batch, np.inf)
        best_cost = np.full(batch, np.inf)
        stalled = np.zeros(batch, dtype=int)
        current_alive = q_ref is not None      # seed CURRENT still descends from q_current
        waiting = np.zeros(batch, dtype=bool)  # random seeds held back while q_current runs alone
        waiting[1:] = q_ref is not None
        solo_iterations = min(CURRENT_FIRST_ITERATIONS, cfg.max_iterations // 2)

        def acceptable(index: int) -> bool:
            return max_joint_jump is None or float(np.max(np.abs(q[index] - q_ref))) <= max_joint_jump

        iterations = 0
        while True:
            if waiting.any() and (iterations >= solo_iterations or not current_alive or converged[CURRENT]):
                waiting[:] = False
            active = np.flatnonzero(~converged & ~waiting)
            pos_vec, rot_vec, jac = self._errors(target_tf, q[active], position_only)
            pos_err[active] = np.linalg.norm(pos_vec, axis=1)
            rot_err[active] = np.linalg.norm(rot_vec, axis=1)
            done = (pos_err[active] < cfg.position_tolerance) & (rot_err[active] < cfg.orientation_tolerance)
            converged[active] = done
            if q_ref is None:
                if converged.any():
                    break
            elif current_alive and converged[CURRENT] and acceptable(CURRENT):
                break
            if converged.all() or iterations == cfg.max_iterations:
                break
            iterations += 1
            moving, pos_vec, rot_vec, jac = active[~done], pos_vec[~done], rot_vec[~done], jac[~done]
            err = np.concatenate([pos_vec, rot_vec], axis=1) * weights
            cost = np.sum(err * err, axis=1)
            improved = cost < best_cost[moving] * (1.0 - STALL_IMPROVEMENT)
            best_cost[moving] = np.where(improved, cost, best_cost[moving])
            stalled[moving] = np.where(improved, 0, stalled[moving] + 1)
            jw = jac * weights[None, :, None]
            # Levenberg-Marquardt damping after Sugihara (2011): lambda = |e|^2 + bias.
            lam = cost + cfg.damping ** 2
            jjt = jw @ np.swapaxes(jw, 1, 2) + lam[:, None, None] * np.eye(6)
            dq = np.einsum("bji,bj->bi", jw, np.linalg.solve(jjt, err[..., None])[..., 0])
            norm = np.linalg.norm(dq, axis=1, keepdims=True)
            dq *= np.minimum(1.0, cfg.max_step / np.maximum(norm, 1e-12))
            q[moving] = self.chain.clip(q[moving] + dq)
            restart = moving[stalled[moving] > STALL_ITERATIONS]
            if restart.size:  # a seed stuck in a local minimum (often at a joint limit) starts afresh
                q[restart] = self._random(rng, restart.size)
                best_cost[restart] = np.inf
                stalled[restart] = 0
                current_alive &= CURRENT not in restart
        candidates = np.flatnonzero(converged)
        if candidates.size == 0:
            best = int(np.argmin(pos_err + cfg.orientation_weight * rot_err))
            raise UnreachablePoseError(target_tf, pos_err[best], rot_err[best], q[best])
        if q_ref is None:
            pick = int(candidates[0])
        elif current_alive and converged[CURRENT] and acceptable(CURRENT):
            pick = CURRENT
        else:
            ok = np.array([c for c in candidates if acceptable(int(c))], dtype=int)
            if ok.size == 0:
                jumps = np.max(np.abs(q[candidates] - q_ref[None]), axis=1)
                nearest = int(candidates[np.argmin(jumps)])
                raise UnreachablePoseError(
                    target_tf, pos_err[nearest], rot_err[nearest], q[nearest],
                    reason=f"no continuous solution: {candidates.size} converged, the least jump is "
                           f"{jumps.min():.3f} rad > max_joint_jump {max_joint_jump} rad")
            pick = int(ok[np.argmin(np.linalg.norm(q[ok] - q_ref[None], axis=1))])
        return IKResult(q[pick].copy(), float(pos_err[pick]), float(rot_err[pick]), iterations)


def solve_ik(robot: RobotSpec, target, arm: str = "", q_current=None, config: IKConfig = IKConfig(),
             position_only: bool = False, max_joint_jump: float | None = None) -> IKResult:
    """IK of one arm of a registry robot; ``target`` is the ee link pose in the robot's base_link frame."""
    return IKSolver(arm_chain(robot, arm), config).solve(target, q_current, position_only, max_joint_jump)
