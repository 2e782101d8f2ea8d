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

from dataclasses import replace
from pathlib import Path

import numpy as np

from ..documents import DocumentError, read_document
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
        data = read_document(path, what="--skill", fmt="json")
    except DocumentError as exc:
        raise SkillError("invalid_input", str(exc)) from None
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


TARGET_NAME = "target"        # the grasp DR spec's per-object factors name the grasped object this
GENERATION_SCENE_FILE = "generation_scene.yaml"


def scene_with_target(scene: str | Path, out_path: str | Path, grasp_in_base=None) -> Path:
    """``scene`` with its grasped object named ``target`` (role target), written to ``out_path``.

    The object is the one the scene marks as target (`dexsim real2sim` marks the one the hand
    grasps), else, for a scene straight from projection (no roles) and ``grasp_in_base`` (the
    demonstration's grasp position in the robot base frame), the object nearest it on the table.
    """
    from ..robots.transforms import pose_to_matrix
    from ..world.scene import Scene, load_scene

    loaded = load_scene(scene)
    data = loaded.to_dict()
    objects = data["objects"]
    targets = [o for o in objects if o.get("role") == "target"]
    if not targets and grasp_in_base is not None and objects:
        world = pose_to_matrix(np.asarray(loaded.robot.base_pose, float)) @ np.append(np.asarray(grasp_in_base, float)[:3], 1.0)
        nearest = min(objects, key=lambda o: float(np.linalg.norm(np.asarray(o["pose"][:2], float) - world[:2])))
        nearest["role"] = "target"
        targets = [nearest]
    if not targets:
        raise SkillError("invalid_input", f"scene {str(scene)!r} marks no object as the grasp target "
                                          "(role: target) and no demonstration says which one the hand grasps")
    if targets[0]["name"] != TARGET_NAME and any(o["name"] == TARGET_NAME for o in objects):
        raise SkillError("invalid_input", f"scene {str(scene)!r}: an object other than the target is named "
                                          f"{TARGET_NAME!r}")
    targets[0]["name"] = TARGET_NAME
    out_path = Path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    Scene.from_dict(data).save(out_path)
    return out_path


def prepare_seed(skill_path: str | Path | None, robot: str | None, task: str, scene: str | Path | None,
                 out_dir: str | Path) -> tuple[KeyposeSkill | None, str | None]:
    """(seed skill, scene to generate in) for `dexsim generate --skill --scene` and the scaling
    node's goal. For grasp with a projected demonstration in a scene that names no target (one
    from `dexsim project scene` or the projection node), the object the demonstration grasps
    becomes the target, in ``out_dir/generation_scene.yaml`` (the dataset's card records it); otherwise the scene is used as given."""
    if skill_path is None:
        return None, None if scene is None else str(scene)
    if task == "grasp" and scene is not None:
        from ..projection.retarget import KEYPOSE_FORMAT, KeyposeSequence, RetargetError
        from ..world.scene import load_scene

        try:
            data = read_document(skill_path, what="--skill", fmt="json")
        except DocumentError:
            data = None                      # load_seed_skill names the problem below
        has_target = any(o.role == "target" for o in load_scene(scene).objects)
        if isinstance(data, dict) and data.get("format") == KEYPOSE_FORMAT and not has_target:
            try:
                seq = KeyposeSequence.from_dict(data)
            except RetargetError as exc:
                raise SkillError("invalid_input", f"--skill: {exc}") from None
            if "grasp" not in seq.labels:
                raise SkillError("invalid_input", f"--skill: the demonstration has no 'grasp' keypose ({seq.labels})")
            scene = scene_with_target(scene, Path(out_dir) / GENERATION_SCENE_FILE,
                                      seq.keypose("grasp")[:3])
    return load_seed_skill(skill_path, robot, task, scene), None if scene is None else str(scene)
