"""A recorded or tele-operated rosbag2 -> one DexSim dataset episode (or a seed joint trajectory).

With stereo images in the bag, each left image is one step: the latest /joint_states at its
stamp gives joint_pos/vel and gripper gap, FK the EE pose (robot base frame), the next step's
values the actions (layout: CONTRACTS.md "Dataset"; `dexsim_sim.scaling.generate.action_names`).
Without images, the joint states (resampled at ``hz``) go into a seed trajectory file
(``trajectory.json``: joint names, times in s, positions in rad/m) for replay or keypose seeding.

Real-bag caveats, handled by the shared decoder (:mod:`dexsim_sim.ros.conversions`): mono8, mono16,
rgba8 / bgra8 images become rgb8, 16UC1 depth (mm) becomes metres.
Not in a real bag and filled as documented: ``seg`` is -1 (no segmentation), ``points`` are
``NUM_POINTS`` depth points (all objects, not only the target) in the base frame, sampled with
``np.random.default_rng(seed)``. The camera pose comes from /tf_static
(base -> ... -> left optical frame; the optical rotation is added when only the camera link is there).
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .recording import build_typestore

JOINT_TOPIC = "/joint_states"
LEFT_IMAGE, RIGHT_IMAGE, DEPTH = "/stereo/left/image_rect", "/stereo/right/image_rect", "/stereo/depth"
LEFT_INFO = "/stereo/left/camera_info"
TF_STATIC = "/tf_static"
BASE_FRAME = "base_link"
OPTICAL_FRAME = "stereo_left_optical_frame"
CAMERA_LINK = "stereo_left_link"
NS_PER_S = 1e9
MAX_DEPTH_M = 5.0            # depth beyond this (or 0/NaN) is no return


class BagConversionError(ValueError):
    """The bag lacks what the conversion needs (names the topic / frame / joint)."""


@dataclass(frozen=True)
class ConversionConfig:
    robot: str
    task: str = "grasp"
    seed: int = 0
    success: bool = True
    hz: float = 10.0        # resampling rate of a bag without images, Hz

    def __post_init__(self) -> None:
        if self.seed < 0:
            raise BagConversionError(f"seed: expected >= 0, got {self.seed}")
        if not self.hz > 0:
            raise BagConversionError(f"hz: expected > 0, got {self.hz}")


def _stamp(msg) -> int:
    return int(msg.header.stamp.sec) * 1_000_000_000 + int(msg.header.stamp.nanosec)


def read_bag(path: str | Path, topics: tuple[str, ...]) -> dict[str, list]:
    """Deserialised messages of ``topics`` (those present), in bag order."""
    from rosbags.rosbag2 import Reader
    from rosbags.rosbag2.errors import ReaderError

    if not Path(path).exists():
        raise BagConversionError(f"bag: {str(path)!r} does not exist")
    out: dict[str, list] = {}
    try:
        with Reader(path) as reader:
            conns = [c for c in reader.connections if c.topic in topics]
            store = build_typestore(sorted({c.msgtype for c in conns}))
            for conn, _, raw in reader.messages(connections=conns):
                out.setdefault(conn.topic, []).append(store.deserialize_cdr(raw, conn.msgtype))
    except ReaderError as exc:
        raise BagConversionError(f"bag: {str(path)!r} is not a readable rosbag2 bag ({exc})") from None
    except (ValueError, IndexError, KeyError, OSError) as exc:     # truncated or corrupt message data
        raise BagConversionError(f"bag: {str(path)!r} is corrupt or truncated ({type(exc).__name__}: {exc})") from None
    return out


def image_array(msg, depth: bool = False) -> np.ndarray:
    """rgb8 (H, W, 3) uint8 from a colour/grey image, or with ``depth`` (H, W) float32 metres from a
    depth image (a rosbags sensor_msgs/Image), through the project's one image decoder."""
    from dexsim_sim.ros.conversions import ConversionError, msg_depth_m, msg_rgb

    try:
        return msg_depth_m(msg) if depth else msg_rgb(msg)
    except ConversionError as exc:
        raise BagConversionError(f"image on the bag: {exc}") from None


def _tf_matrix(t) -> np.ndarray:
    from dexsim_sim.robots.transforms import pose_to_matrix

    tr, q = t.transform.translation, t.transform.rotation
    return pose_to_matrix((tr.x, tr.y, tr.z, q.x, q.y, q.z, q.w))


def static_transform(tf_static: list, target: str, source: str) -> np.ndarray:
    """4x4 pose of frame ``source`` in frame ``target`` from /tf_static messages (tree search)."""
    edges: dict[str, list[tuple[str, np.ndarray]]] = {}
    for msg in tf_static:
        for t in msg.transforms:
            m = _tf_matrix(t)
            edges.setdefault(t.header.frame_id, []).append((t.child_frame_id, m))
            edges.setdefault(t.child_frame_id, []).append((t.header.frame_id, np.linalg.inv(m)))
    best = {target: np.eye(4)}
    stack = [target]
    while stack:
        frame = stack.pop()
        for child, m in edges.get(frame, []):
            if child not in best:
                best[child] = best[frame] @ m
                stack.append(child)
    if source not in best:
        raise BagConversionError(f"/tf_static: no transform chain {target} -> {source}")
    return best[source]


def camera_in_base(tf_static: list) -> np.ndarray:
    from dexsim_sim.robots.transforms import make_transform
    from dexsim_sim.world.camera import LINK_TO_OPTICAL

    try:
        return static_transform(tf_static, BASE_FRAME, OPTICAL_FRAME)
    except BagConversionError:
        return static_transform(tf_static, BASE_FRAME, CAMERA_LINK) @ make_transform(LINK_TO_OPTICAL)


def _latest_before(stamps: np.ndarray, t: int) -> int:
    return max(int(np.searchsorted(stamps, t, side="right")) - 1, 0)


def _joint_table(msgs: list, names: tuple[str, ...]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(stamps ns, positions (N, J), velocities (N, J)) of ``names`` from JointState messages."""
    first = list(msgs[0].name)
    missing = [n for n in names if n not in first]
    if missing:
        raise BagConversionError(f"{JOINT_TOPIC}: joints {missing} not in the message (has {first}); "
                                 "map driver names in config/<robot>.yaml (driver_joint_names)")
    idx = [first.index(n) for n in names]
    stamps = np.array([_stamp(m) for m in msgs], dtype=np.int64)
    pos = np.array([np.asarray(m.position)[idx] for m in msgs], dtype=np.float64)
    vel = np.array([np.asarray(m.velocity)[idx] if len(m.velocity) else np.zeros(len(idx)) for m in msgs])
    order = np.argsort(stamps, kind="stable")
    return stamps[order], pos[order], vel[order]


def write_trajectory(msgs: list, robot, out: Path, hz: float) -> Path:
    stamps, pos, _ = _joint_table(msgs, robot.arm_joints + robot.gripper_joints)
    times = np.arange(stamps[0], stamps[-1] + 1, int(NS_PER_S / hz))
    rows = [pos[_latest_before(stamps, t)].tolist() for t in times]
    out.mkdir(parents=True, exist_ok=True)
    path = out / "trajectory.json"
    path.write_text(json.dumps({"robot": robot.name, "joint_names": list(robot.arm_joints + robot.gripper_joints),
                                "times_s": ((times - times[0]) / NS_PER_S).tolist(), "positions": rows}))
    return path


def _points(depth: np.ndarray, K: np.ndarray, cam_in_base: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    from dexsim_sim.datasets.hdf5 import NUM_POINTS

    v, u = np.nonzero(np.isfinite(depth) & (depth > 0) & (depth < MAX_DEPTH_M))
    if len(v) == 0:
        return np.zeros((NUM_POINTS, 3), np.float32)
    pick = rng.choice(len(v), NUM_POINTS, replace=len(v) < NUM_POINTS)
    z = depth[v[pick], u[pick]]
    cam = np.stack([(u[pick] - K[0, 2]) * z / K[0, 0], (v[pick] - K[1, 2]) * z / K[1, 1], z, np.ones_like(z)])
    return (cam_in_base @ cam)[:3].T.astype(np.float32)


def convert_bag(bag: str | Path, out: str | Path, config: ConversionConfig) -> Path:
    """Convert ``bag``; returns the dataset directory (with images) or the trajectory file."""
    from dexsim_sim.datasets.hdf5 import DatasetWriter, Episode
    from dexsim_sim.robots.kinematics import arm_chain
    from dexsim_sim.robots.registry import get_robot
    from dexsim_sim.robots.transforms import matrix_to_pose, pose_to_matrix
    from dexsim_sim.scaling.generate import action_names

    robot = get_robot(config.robot)
    if len(robot.arms) != 1:
        raise BagConversionError(f"robot: {robot.name} has {len(robot.arms)} arms; only single-arm bags convert")
    msgs = read_bag(bag, (JOINT_TOPIC, LEFT_IMAGE, RIGHT_IMAGE, DEPTH, LEFT_INFO, TF_STATIC))
    if not msgs.get(JOINT_TOPIC):
        raise BagConversionError(f"{bag}: no {JOINT_TOPIC} messages")
    out = Path(out)
    if not msgs.get(LEFT_IMAGE):
        return write_trajectory(msgs[JOINT_TOPIC], robot, out, config.hz)
    for topic in (RIGHT_IMAGE, DEPTH, LEFT_INFO, TF_STATIC):
        if not msgs.get(topic):
            raise BagConversionError(f"{bag}: has {LEFT_IMAGE} but no {topic}")

    stamps, pos, vel = _joint_table(msgs[JOINT_TOPIC], robot.arm_joints + robot.gripper_joints)
    n_arm = len(robot.arm_joints)
    lefts = msgs[LEFT_IMAGE]
    frame_t = [_stamp(m) for m in lefts]

    def nearest(topic: str) -> list:
        ts = np.array([_stamp(m) for m in msgs[topic]])
        return [msgs[topic][int(np.argmin(np.abs(ts - t)))] for t in frame_t]

    rights, depths = nearest(RIGHT_IMAGE), nearest(DEPTH)
    rows = [_latest_before(stamps, t) for t in frame_t]
    q, qd = pos[rows], vel[rows]
    gap = np.abs(q[:, n_arm:]).sum(axis=1, keepdims=True)
    chain = arm_chain(robot)
    ee = np.array([matrix_to_pose(chain.fk(qi[:n_arm])) for qi in q])
    cam = camera_in_base(msgs[TF_STATIC])
    base_in_optical = np.linalg.inv(cam)
    ee_cam = np.array([matrix_to_pose(base_in_optical @ pose_to_matrix(p)) for p in ee])
    nxt = np.minimum(np.arange(len(frame_t)) + 1, len(frame_t) - 1)
    closed = (gap[nxt] < (robot.gripper_open + robot.gripper_closed) / 2).astype(np.float32)
    actions = np.concatenate([q[nxt, :n_arm], ee[nxt], closed, ee_cam[nxt]], axis=1)
    K = np.asarray(msgs[LEFT_INFO][0].k, dtype=np.float64).reshape(3, 3)
    rng = np.random.default_rng(config.seed)
    depth_arr = np.stack([image_array(m, depth=True) for m in depths])
    left = np.stack([image_array(m) for m in lefts])
    episode = Episode(
        seed=config.seed, robot=robot.name, task=config.task, success=config.success,
        obs={"left_rgb": left, "right_rgb": np.stack([image_array(m) for m in rights]), "depth": depth_arr,
             "seg": np.full(depth_arr.shape, -1, np.int32),
             "points": np.stack([_points(d, K, cam, rng) for d in depth_arr]),
             "joint_pos": q[:, :n_arm], "joint_vel": qd[:, :n_arm], "ee_pose": ee, "gripper": gap},
        actions=actions, dones=np.arange(len(frame_t)) == len(frame_t) - 1, action_names=action_names(robot),
        camera={"K": K.ravel().tolist(), "pose_in_base": matrix_to_pose(cam).tolist(),
                "width": int(lefts[0].width), "height": int(lefts[0].height)},
        extra={"source_bag": str(bag), "joint_names": list(robot.arm_joints)})
    with DatasetWriter(out, robot=robot.name, task=config.task) as writer:
        writer.add_episode(episode)
    return out


STILL_WINDOW_S = 0.15        # a hand-eye capture: the arm still this long on either side of the image
STILL_TOL_RAD = 1e-3         # ...within this, joint by joint; poses closer than this are one pose


def captures_from_bag(bag: str | Path, robot_name: str) -> tuple[list[np.ndarray], np.ndarray, np.ndarray]:
    """Hand-eye captures from a recorded bag: (left images, arm joint positions (N, J) in the
    registry's order, K) at the distinct poses where the arm stood still around an image.

    A capture is a left image whose /joint_states within +-STILL_WINDOW_S all agree within
    STILL_TOL_RAD (a frame taken while the arm moves pairs the image with the wrong pose); of the
    still frames at one pose, the first is kept."""
    from dexsim_sim.robots.registry import get_robot

    robot = get_robot(robot_name)
    msgs = read_bag(bag, (JOINT_TOPIC, LEFT_IMAGE, LEFT_INFO))
    for topic in (LEFT_IMAGE, LEFT_INFO, JOINT_TOPIC):
        if not msgs.get(topic):
            raise BagConversionError(f"{bag}: no {topic} messages (a hand-eye bag needs {LEFT_IMAGE}, {LEFT_INFO} "
                                     f"and {JOINT_TOPIC})")
    K = np.asarray(msgs[LEFT_INFO][0].k, dtype=np.float64).reshape(3, 3)
    stamps, pos, _ = _joint_table(msgs[JOINT_TOPIC], robot.arm_joints)
    window = int(STILL_WINDOW_S * NS_PER_S)
    images, joints = [], []
    for msg in msgs[LEFT_IMAGE]:
        t = _stamp(msg)
        near = pos[(stamps >= t - window) & (stamps <= t + window)]
        if len(near) < 2 or stamps[0] > t - window or stamps[-1] < t + window:
            continue                                  # not enough joint states around it to know it was still
        if np.max(np.ptp(near, axis=0)) > STILL_TOL_RAD:
            continue                                  # the arm moved
        q = near.mean(axis=0)
        if joints and np.max(np.abs(q - joints[-1])) <= STILL_TOL_RAD:
            continue                                  # the same pose as the previous capture
        images.append(image_array(msg))
        joints.append(q)
    return images, np.asarray(joints, dtype=np.float64).reshape(len(joints), len(robot.arm_joints)), K
