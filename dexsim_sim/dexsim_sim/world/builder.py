"""Build a :class:`~dexsim_sim.world.scene.Scene` into a PyBullet DIRECT client, once.

:meth:`World.build` sets the renderer up first (EGL must precede any body), then creates the
floor, the table slab (top face at ``table.height``), the robot (fixed base at its scene pose) and
the objects. Fast resets move things without rebuilding: :meth:`World.reset_objects`,
:meth:`World.set_robot_joints`, :meth:`World.save_state` / :meth:`World.restore_state`.
Building is deterministic (same scene -> same body ids, same state).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import threading

import numpy as np
import pybullet as p

from ..robots.registry import RobotSpec, get_robot, gripper_joint_positions
from ..robots.transforms import matrix_to_pose, pose_to_matrix
from .assets import Asset, default_library, texture_path
from .camera import CameraError, Light, StereoRig, forget_client, setup_renderer
from .native_log import native_output_to_log
from .scene import Scene, SceneError, load_scene

PHYSICS_HZ = 240.0
GRAVITY = -9.81                      # m/s^2
SOLVER_ITERATIONS = 50
FLOOR_BELOW_TABLE = 0.75             # m, floor plane below the table top (background only)
FINGER_FRICTION = 1.8                # lateral friction of finger links (grip)
OBJECT_SPINNING_FRICTION = 0.002
OBJECT_ROLLING_FRICTION = 0.0005
ARM_POSITION_GAIN = 0.3              # PyBullet position-control gains
GRIPPER_POSITION_GAIN = 0.2
PARKING_HEIGHT = 100.0               # m, where bodies go while contact caches are cleared
PARKING_SPACING = 10.0               # m between parked bodies


class WorldError(RuntimeError):
    """A request the built world cannot satisfy (unknown object, bad joint vector)."""


@dataclass
class RobotHandles:
    """PyBullet indices of the robot: joint and link maps, arm/gripper joint indices, ee links."""

    body: int
    spec: RobotSpec
    joint_index: dict[str, int]           # every movable joint
    link_index: dict[str, int]            # every link except the base (-1)
    arm_indices: tuple[int, ...]          # in spec.arm_joints order
    gripper_indices: tuple[int, ...]      # in spec.gripper_joints order
    ee_links: tuple[int, ...]             # one per arm, spec.arms order


@dataclass
class ObjectHandle:
    name: str
    body: int
    asset: Asset
    scale: np.ndarray
    body_offset: np.ndarray               # body frame in the object's base (bottom) frame


@dataclass
class World:
    client: int
    scene: Scene
    renderer: str
    robot: RobotHandles
    objects: dict[str, ObjectHandle]
    table: int
    floor: int
    rig: StereoRig
    light: Light
    physics_hz: float = PHYSICS_HZ
    _textures: dict[str, int] = field(default_factory=dict, repr=False)
    _owner_thread: int = field(default_factory=threading.get_ident, repr=False)   # the thread that built it

    # ------------------------------------------------------------------ build
    @classmethod
    def build(cls, scene: Scene | str | Path, renderer: str = "auto",
              image_size: tuple[int, int] | None = None, physics_hz: float = PHYSICS_HZ) -> "World":
        """Create a DIRECT client and everything in ``scene``; ``image_size`` (H, W) overrides the
        camera resolution (keeping its field of view)."""
        if not isinstance(scene, Scene):
            scene = load_scene(scene)
        with native_output_to_log():                 # the EGL plugin's banner goes to the renderer log
            client = p.connect(p.DIRECT)
            try:
                setup_renderer(client, renderer)
            except Exception:
                p.disconnect(client)
                forget_client(client)
                raise
        try:
            return cls._build(client, scene, renderer, image_size, physics_hz)
        except Exception:
            p.disconnect(client)
            forget_client(client)
            raise

    @classmethod
    def _build(cls, client: int, scene: Scene, renderer: str, image_size, physics_hz: float) -> "World":
        used = setup_renderer(client, renderer)      # before any body (EGL)
        p.setPhysicsEngineParameter(fixedTimeStep=1.0 / physics_hz, numSolverIterations=SOLVER_ITERATIONS,
                                    deterministicOverlappingPairs=1, physicsClientId=client)
        p.setGravity(0.0, 0.0, GRAVITY, physicsClientId=client)
        tbl = scene.table
        floor_shape = p.createCollisionShape(p.GEOM_PLANE, physicsClientId=client)
        floor_visual = p.createVisualShape(p.GEOM_BOX, halfExtents=[5.0, 5.0, 0.001], rgbaColor=scene.background.color,
                                           physicsClientId=client)
        floor = p.createMultiBody(0.0, floor_shape, floor_visual, [0.0, 0.0, tbl.height - FLOOR_BELOW_TABLE],
                                  physicsClientId=client)
        half = [tbl.size[0] / 2.0, tbl.size[1] / 2.0, tbl.size[2] / 2.0]
        table = p.createMultiBody(
            0.0, p.createCollisionShape(p.GEOM_BOX, halfExtents=half, physicsClientId=client),
            p.createVisualShape(p.GEOM_BOX, halfExtents=half, rgbaColor=tbl.color, physicsClientId=client),
            [0.0, 0.0, tbl.height - half[2]], physicsClientId=client)
        robot = _load_robot(client, scene)
        objects = {}
        library = default_library()
        for obj in scene.objects:
            asset = library.get(obj.asset)
            scale = np.asarray(obj.scale, float)
            offset = asset.body_offset(scale)
            body_pose = matrix_to_pose(pose_to_matrix(obj.pose) @ _translation(offset))
            flags = p.URDF_USE_INERTIA_FROM_FILE
            if asset.articulated:   # the lid must rest on the walls of its own base link
                flags |= p.URDF_USE_SELF_COLLISION | p.URDF_USE_SELF_COLLISION_INCLUDE_PARENT
            uid = p.loadURDF(str(asset.urdf(scale, obj.mass)), body_pose[:3].tolist(), body_pose[3:].tolist(),
                             flags=flags, physicsClientId=client)
            for link in range(-1, p.getNumJoints(uid, physicsClientId=client)):
                p.changeDynamics(uid, link, lateralFriction=asset.friction if obj.friction is None else obj.friction,
                                 spinningFriction=OBJECT_SPINNING_FRICTION, rollingFriction=OBJECT_ROLLING_FRICTION,
                                 physicsClientId=client)
            objects[obj.name] = ObjectHandle(obj.name, uid, asset, scale, offset)
        cam = scene.cameras["stereo"]
        h, w = image_size if image_size is not None else (cam.height, cam.width)
        rig = StereoRig.from_config(cam, width=w, height=h)
        first = scene.lights[0]
        world = cls(client, scene, used, robot, objects, table, floor, rig,
                    Light(first.position, first.color, first.intensity), physics_hz)
        world._apply_appearance()
        return world

    def _apply_appearance(self) -> None:
        sc = self.scene
        self.set_texture(self.table, sc.table.texture)
        self.set_texture(self.floor, sc.background.texture)
        for obj in sc.objects:
            handle = self.objects[obj.name]
            self.set_color(handle.body, obj.color or handle.asset.color)
            self.set_texture(handle.body, obj.texture)

    # ------------------------------------------------------------- appearance
    def texture_id(self, name: str, seed: int = 0) -> int:
        """PyBullet texture id of a procedural texture (loaded once per world)."""
        key = f"{name}:{seed}"
        if key not in self._textures:
            self._textures[key] = p.loadTexture(str(texture_path(name, seed)), physicsClientId=self.client)
        return self._textures[key]

    def set_texture(self, body: int, name: str | None, seed: int = 0) -> None:
        if name is None:
            return
        tex = self.texture_id(name, seed)
        for link in range(-1, p.getNumJoints(body, physicsClientId=self.client)):
            p.changeVisualShape(body, link, textureUniqueId=tex, physicsClientId=self.client)

    def set_color(self, body: int, rgba) -> None:
        for link in range(-1, p.getNumJoints(body, physicsClientId=self.client)):
            p.changeVisualShape(body, link, rgbaColor=list(rgba), physicsClientId=self.client)

    # ---------------------------------------------------------------- objects
    def object(self, name: str) -> ObjectHandle:
        if name not in self.objects:
            raise WorldError(f"object: no object named {name!r} (have {sorted(self.objects)})")
        return self.objects[name]

    def object_pose(self, name: str) -> np.ndarray:
        """World 7-vector of the object's base frame (bottom centre), as in the scene file."""
        h = self.object(name)
        pos, orn = p.getBasePositionAndOrientation(h.body, physicsClientId=self.client)
        body = pose_to_matrix(np.concatenate([pos, orn]))
        return matrix_to_pose(body @ _translation(-h.body_offset))

    def body_ids(self) -> dict[str, int]:
        return {name: h.body for name, h in self.objects.items()}

    def reset_objects(self, poses: dict[str, np.ndarray] | None = None) -> None:
        """Move objects to base-frame poses (default: their scene poses), zero their velocities and
        close articulated parts."""
        poses = poses if poses is not None else {o.name: np.asarray(o.pose) for o in self.scene.objects}
        for name, pose in poses.items():
            h = self.object(name)
            pose = np.asarray(pose, float)
            if pose.shape != (7,) or not np.all(np.isfinite(pose)):
                raise WorldError(f"poses[{name!r}]: expected 7 finite numbers, got {pose.tolist()}")
            body = matrix_to_pose(pose_to_matrix(pose) @ _translation(h.body_offset))
            p.resetBasePositionAndOrientation(h.body, body[:3].tolist(), body[3:].tolist(), physicsClientId=self.client)
            p.resetBaseVelocity(h.body, [0.0, 0.0, 0.0], [0.0, 0.0, 0.0], physicsClientId=self.client)
            for j in range(p.getNumJoints(h.body, physicsClientId=self.client)):
                p.resetJointState(h.body, j, 0.0, 0.0, physicsClientId=self.client)
                p.setJointMotorControl2(h.body, j, p.VELOCITY_CONTROL, force=0.0, physicsClientId=self.client)

    def joint_position(self, name: str, joint: int = 0) -> float:
        """Position of joint ``joint`` of an articulated object (e.g. the paper box lid, rad)."""
        return float(p.getJointState(self.object(name).body, joint, physicsClientId=self.client)[0])

    # ------------------------------------------------------------------ robot
    def set_robot_joints(self, arm_q, gripper: float = 0.0) -> None:
        """Teleport the arm to ``arm_q`` (spec.arm_joints order) and the gripper to ``gripper`` (0 open,
        1 closed), and hold them there with the position controllers."""
        arm_q = self._check_arm_q(arm_q)
        for idx, q in zip(self.robot.arm_indices, arm_q):
            p.resetJointState(self.robot.body, idx, float(q), 0.0, physicsClientId=self.client)
        grip = self.gripper_targets(np.full(len(self.robot.spec.arms), gripper))
        for idx, q in zip(self.robot.gripper_indices, grip):
            p.resetJointState(self.robot.body, idx, float(q), 0.0, physicsClientId=self.client)
        self.command(arm_q, grip)

    def _check_arm_q(self, arm_q) -> np.ndarray:
        arm_q = np.asarray(arm_q, float)
        if arm_q.shape != (len(self.robot.arm_indices),) or not np.all(np.isfinite(arm_q)):
            raise WorldError(f"arm_q: expected {len(self.robot.arm_indices)} finite joint values, got {arm_q.tolist()}")
        return arm_q

    def gripper_targets(self, closure) -> np.ndarray:
        """Finger joint targets (spec.gripper_joints order) for a closure per arm (0 open, 1 closed)."""
        spec = self.robot.spec
        out = []
        for arm, c in zip(spec.arms, np.clip(np.asarray(closure, float), 0.0, 1.0)):
            opening = spec.gripper_open - c * (spec.gripper_open - spec.gripper_closed)
            values = gripper_joint_positions(spec, opening, arm.name)
            out += [values[j] for j in arm.gripper_joints]
        return np.asarray(out)

    def command(self, arm_q, gripper_q, gripper_effort=None) -> None:
        """Position targets for arm joints and finger joints, with URDF velocity/effort limits.
        ``gripper_effort``: optional force limit (N) per finger joint (spec.gripper_joints order; 0 or
        more than the URDF's effort = the URDF's), a GripperCommand goal's ``max_effort``."""
        spec, body = self.robot.spec, self.robot.body
        finger_caps = [0.0] * len(spec.gripper_joints) if gripper_effort is None else list(gripper_effort)
        for names, indices, targets, caps, gain in (
                (spec.arm_joints, self.robot.arm_indices, arm_q, [0.0] * len(spec.arm_joints), ARM_POSITION_GAIN),
                (spec.gripper_joints, self.robot.gripper_indices, gripper_q, finger_caps, GRIPPER_POSITION_GAIN)):
            for name, idx, q, cap in zip(names, indices, targets, caps):
                lim = spec.limits[name]
                force = min(lim.effort, float(cap)) if cap > 0.0 else lim.effort
                p.setJointMotorControl2(body, idx, p.POSITION_CONTROL, targetPosition=float(np.clip(q, lim.lower, lim.upper)),
                                        force=force, maxVelocity=lim.velocity, positionGain=gain,
                                        physicsClientId=self.client)

    def joint_states(self) -> tuple[np.ndarray, np.ndarray]:
        """Arm joint positions and velocities (spec.arm_joints order)."""
        states = p.getJointStates(self.robot.body, self.robot.arm_indices, physicsClientId=self.client)
        return np.array([s[0] for s in states]), np.array([s[1] for s in states])

    def gripper_openings(self) -> np.ndarray:
        """Finger gap per arm (m)."""
        states = p.getJointStates(self.robot.body, self.robot.gripper_indices, physicsClientId=self.client)
        q = np.abs([s[0] for s in states])
        per_arm = len(q) // len(self.robot.spec.arms)
        return q.reshape(len(self.robot.spec.arms), per_arm).sum(axis=1)

    def ee_pose(self, arm: int = 0, frame: str = "world") -> np.ndarray:
        """7-vector of an arm's ee link in the world or the robot base frame ("base")."""
        state = p.getLinkState(self.robot.body, self.robot.ee_links[arm], computeForwardKinematics=True,
                               physicsClientId=self.client)
        pose = np.concatenate([state[4], state[5]])
        if frame == "world":
            return pose
        if frame == "base":
            return matrix_to_pose(np.linalg.inv(self.base_matrix()) @ pose_to_matrix(pose))
        raise WorldError(f"frame: expected 'world' or 'base', got {frame!r}")

    def base_matrix(self) -> np.ndarray:
        return pose_to_matrix(np.asarray(self.scene.robot.base_pose, float))

    def finger_links(self, arm: int = 0) -> tuple[int, ...]:
        n = len(self.robot.gripper_indices) // len(self.robot.spec.arms)
        return self.robot.gripper_indices[arm * n:(arm + 1) * n]   # link index == joint index

    def contacts(self, body_a: int, body_b: int, link_a: int | None = None) -> list:
        kwargs = {} if link_a is None else {"linkIndexA": link_a}
        return p.getContactPoints(body_a, body_b, physicsClientId=self.client, **kwargs)

    # ----------------------------------------------------------------- physics
    def step(self, n: int = 1) -> None:
        for _ in range(n):
            p.stepSimulation(physicsClientId=self.client)

    def save_state(self) -> int:
        return p.saveState(physicsClientId=self.client)

    def restore_state(self, state_id: int, clear_contacts: bool = False) -> None:
        """Restore a saved state. ``clear_contacts`` first drops every cached contact manifold (their
        warm-start impulses survive ``restoreState``), so the future no longer depends on history."""
        if clear_contacts:
            self._clear_contacts()
        p.restoreState(stateId=state_id, physicsClientId=self.client)

    def _clear_contacts(self) -> None:
        """Move every body far from every other and run collision detection: PyBullet then drops
        all overlapping pairs and their manifolds."""
        bodies = [self.robot.body, self.table] + [h.body for h in self.objects.values()]
        for i, body in enumerate(bodies):
            p.resetBasePositionAndOrientation(body, [0.0, 0.0, PARKING_HEIGHT + PARKING_SPACING * i], [0, 0, 0, 1],
                                              physicsClientId=self.client)
        p.performCollisionDetection(physicsClientId=self.client)

    def render(self, segmentation: bool = True) -> dict[str, np.ndarray]:
        """The stereo rig's images (see :meth:`StereoRig.render`); ``segmentation=False``: no seg."""
        if self.renderer == "egl" and threading.get_ident() != self._owner_thread:
            # EGL renders only in the thread that created the client; anywhere else PyBullet
            # silently returns the last frame rendered there (both cameras would show it)
            raise CameraError(f"render: this world's EGL context belongs to thread {self._owner_thread}; "
                              f"render from that thread (called from {threading.get_ident()})")
        if not getattr(self, "_rendered", False):     # the EGL context's first use prints its vendor
            self._rendered = True
            with native_output_to_log():
                # The first frame of a new client differs from every later render of the same state
                # (lazy renderer state), so images would depend on whether anything was rendered
                # before: it is rendered once and thrown away.
                self.rig.render(self.client, self.light)
        return self.rig.render(self.client, self.light, segmentation=segmentation)

    def close(self) -> None:
        if p.isConnected(self.client):
            with native_output_to_log():
                p.disconnect(self.client)
        forget_client(self.client)


def _translation(xyz) -> np.ndarray:
    tf = np.eye(4)
    tf[:3, 3] = xyz
    return tf


def _load_robot(client: int, scene: Scene) -> RobotHandles:
    spec = get_robot(scene.robot.name)
    pose = scene.robot.base_pose
    body = p.loadURDF(str(spec.urdf), list(pose[:3]), list(pose[3:]), useFixedBase=True,
                      flags=p.URDF_USE_INERTIA_FROM_FILE, physicsClientId=client)
    joint_index, link_index = {}, {}
    for j in range(p.getNumJoints(body, physicsClientId=client)):
        info = p.getJointInfo(body, j, physicsClientId=client)
        link_index[info[12].decode()] = j
        if info[2] in (p.JOINT_REVOLUTE, p.JOINT_PRISMATIC):
            joint_index[info[1].decode()] = j
    missing = [n for n in spec.arm_joints + spec.gripper_joints if n not in joint_index]
    if missing:
        raise SceneError(f"robot.name: URDF of {spec.name!r} lacks joints {missing}")
    handles = RobotHandles(body, spec, joint_index, link_index, tuple(joint_index[n] for n in spec.arm_joints),
                           tuple(joint_index[n] for n in spec.gripper_joints),
                           tuple(link_index[a.ee_link] for a in spec.arms))
    for idx in handles.gripper_indices:
        p.changeDynamics(body, idx, lateralFriction=FINGER_FRICTION, physicsClientId=client)
    for q, idx in zip(spec.home, handles.arm_indices):
        p.resetJointState(body, idx, q, physicsClientId=client)
    return handles
