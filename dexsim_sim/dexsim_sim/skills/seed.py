"""Seed skills from files: what `dexsim generate --skill K` scales instead of the task's scripted skill.

``K`` is either

- a projected demonstration (``format: dexsim-keyposes``, what `dexsim project demo` and the
  projection node write: gripper key poses in the robot base frame), anchored to the task's target
  object where the scene file puts it (the scene the demonstration was projected with); for the
  grasp task the demonstration
  is cut at the top of the lift and held there (the human goes on to place the object, which the
  grasp-and-lift task does not ask for); or
- a keypose skill (``format: dexsim-keypose-skill``, :meth:`KeyposeSkill.to_dict`: object-frame key
  poses), used as it is.

A recorded joint trajectory (``trajectory.json`` from `dexsim bag2dataset`) is not a seed skill yet:
it is refused with a message saying so.
"""
from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np

from .keypose import SKILL_FORMAT, KeyposeSkill, SkillError

HOLD_S = 1.0                  # the grasp task wants the lifted object held for a while


def grasp_and_lift(seq):
    """The grasp task's part of a projected demonstration: approach, grasp, then the top of the
    lift (the highest point of the dense track before the hand comes down to place), held for HOLD_S."""
    for label in ("grasp", "place"):
        if label not in seq.labels:
            raise SkillError("invalid_input", f"the demonstration has no {label!r} keypose (labels: {seq.labels})")
    g, p = seq.labels.index("grasp"), seq.labels.index("place")
    window = (seq.dense_times >= seq.times[g]) & (seq.dense_times <= seq.times[p])
    if not window.any():
        raise SkillError("invalid_input", "the demonstration's dense track does not cover grasp..place")
    idx = np.flatnonzero(window)
    top = int(idx[np.argmax(seq.dense_poses[idx, 2])])
    t_top = float(seq.dense_times[top])
    return replace(seq, labels=[*seq.labels[:g + 1], "lift", "hold"],
                   frames=[*seq.frames[:g + 1], int(seq.dense_frames[top]), int(seq.dense_frames[top])],
                   times=np.array([*seq.times[:g + 1], t_top, t_top + HOLD_S]),
                   poses=np.vstack([seq.poses[:g + 1], seq.dense_poses[top], seq.dense_poses[top]]),
                   openings=np.array([*seq.openings[:g + 1], seq.openings[g], seq.openings[g]]))


def skill_from_demonstration(world, task, seq) -> KeyposeSkill:
    """A projected demonstration as a seed skill of ``task`` (a loaded, reset task in ``world``)."""
    from .replay import skill_from_keyposes

    name = getattr(task, "name", "")
    if name == "grasp":
        return skill_from_keyposes(world, grasp_and_lift(seq), anchor=task.target, task="grasp")
    anchor = getattr(task, "box", "") or world.scene.objects[0].name
    return skill_from_keyposes(world, seq, anchor=anchor, task=name)


def load_seed_skill(path: str | Path, robot: str | None, task: str, scene: str | Path | None = None) -> KeyposeSkill:
    """The seed skill in file ``path`` (see the module doc) for ``task`` on ``robot`` in ``scene``."""
    from ..env import DexSimEnv
    from ..projection.retarget import KEYPOSE_FORMAT, KeyposeSequence, RetargetError

    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise SkillError("invalid_input", f"--skill: cannot read {str(path)!r} as JSON: {exc}") from None
    kind = data.get("format") if isinstance(data, dict) else None
    if kind == SKILL_FORMAT:
        skill = KeyposeSkill.from_dict(data)
        if skill.task != task:
            raise SkillError("invalid_input", f"--skill: {str(path)!r} is a {skill.task!r} skill, not {task!r}")
        return skill
    if kind != KEYPOSE_FORMAT:
        hint = (" (a joint trajectory from `dexsim bag2dataset`: replaying it as a seed skill is not supported "
                "yet; convert a bag with images to a dataset instead)") if isinstance(data, dict) and "joint_names" in data else ""
        raise SkillError("invalid_input", f"--skill: {str(path)!r} is neither {KEYPOSE_FORMAT!r} (dexsim project demo) "
                                          f"nor {SKILL_FORMAT!r} (got format {kind!r}){hint}")
    try:
        seq = KeyposeSequence.from_dict(data)
    except RetargetError as exc:
        raise SkillError("invalid_input", f"--skill: {exc}") from None
    env = DexSimEnv(task=task, robot=robot, scene=str(scene) if scene else None, render_images=False)
    try:                          # the objects stand where the scene file puts them (no seeded reset)
        return skill_from_demonstration(env.world, env.task, seq)
    finally:
        env.close()
