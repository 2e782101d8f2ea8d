"""One episode's setup, shared by the data engine, the in-process evaluation and the sim node's reset,
so that an episode seed means the same scene everywhere:

1. the world's DR state goes back to nominal and the task resets with the episode seed (its own
   seeded placement, e.g. the grasp target's x, y and yaw);
2. a DR sample is drawn from ``(spec, seed)`` (or given, e.g. by ADR) and applied through
   :class:`~dexsim_sim.scaling.world_target.WorldTarget`: SA factors, then AI factors;
3. (after the caller planned, if it plans from the poses as applied) ``DR_SETTLE_STEPS`` of physics.

Seeds: the data engine's episode ``i`` of a run with base seed ``b`` has seed ``b * SEED_STRIDE + i``;
evaluation episodes have ``EVAL_SEED_BASE + b * SEED_STRIDE + i`` (disjoint from every training seed
for base seeds below 1000). Both fit ROS 2's int64 parameters and the uint64 reset field.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Sequence

import numpy as np

if TYPE_CHECKING:   # pragma: no cover
    from .scaling.dr import DRSample, DRSpec

SEED_STRIDE = 1_000_003           # a prime: runs with different base seeds never share an episode
EVAL_SEED_BASE = 1_000_000_000    # evaluation seeds start here (training seeds stay below for b < 1000)
MAX_BASE_SEED = 2**40             # base seeds above this would push episode seeds out of int64
DR_SETTLE_STEPS = 24              # physics steps after applying a DR sample (0.1 s at 240 Hz)


def train_seed(base: int, index: int) -> int:
    """Seed of the data engine's episode ``index`` in a run with base seed ``base``."""
    return int(base) * SEED_STRIDE + int(index)


def eval_seed(base: int, index: int) -> int:
    """Seed of evaluation episode ``index`` with base seed ``base`` (held out from training)."""
    return EVAL_SEED_BASE + int(base) * SEED_STRIDE + int(index)


def start_episode(env, target, seed: int, spec: "DRSpec | None" = None,
                  sample: "DRSample | None" = None) -> "DRSample | None":
    """Steps 1-2 of the module doc on ``env`` (a DexSimEnv) with ``target`` (its world's
    WorldTarget, or None when no DR is applied). Returns the applied sample (None without a spec)."""
    from .scaling.dr import DRSampler, apply_sample

    if target is not None:
        target.reset_dr()
    env.reset(seed=int(seed), options={"observe": False})   # every caller observes after settling
    if spec is None or target is None:
        return None
    target.capture_reference()
    if sample is None:
        sample = DRSampler(spec).sample(int(seed))
    apply_sample(spec, sample, target)
    return sample


def settle(world) -> None:
    """Step 3: let the applied poses come to rest."""
    world.step(DR_SETTLE_STEPS)


def task_objects(task) -> list[str]:
    """The objects the task manipulates: whose point cloud is the domain-adapted observation."""
    if task.name == "grasp":
        return [task.target]
    if task.name == "open_box":
        return [task.box]
    return [obj for obj, _, _ in task.pairs]


def point_cloud(world, depth: np.ndarray, seg: np.ndarray, names: Sequence[str], seed: int = 0) -> np.ndarray:
    """The object-centric observation (domain adaptation, as the data engine records it): the left
    camera's depth masked to the objects ``names``, in the robot base frame, ``DEFAULT_NUM_POINTS``
    points by farthest-point sampling (``seed``). The camera pose is the rig's own (a calibrated camera)."""
    from .scaling.adaptation import masked_point_cloud

    bodies = [world.object(n).body for n in names]
    optical_in_base = np.linalg.inv(world.base_matrix()) @ world.rig.optical_pose("left")
    depth = np.clip(depth, world.rig.near, world.rig.far)
    return masked_point_cloud(depth, seg, bodies, world.rig.K, optical_in_base, seed=seed).points
