"""Export one episode as a rosbag2 (MCAP storage) with the live stack's topics, without ROS.

Uses the pure-python `rosbags` writer (MCAP storage plugin, bag metadata version 9) and its
ROS 2 Kilted typestore (the message definitions used here are the same in Jazzy). Topics:

| topic | type |
|---|---|
| /stereo/left/image_rect, /stereo/right/image_rect | sensor_msgs/msg/Image (rgb8) |
| /stereo/left/camera_info, /stereo/right/camera_info | sensor_msgs/msg/CameraInfo |
| /stereo/depth | sensor_msgs/msg/Image (32FC1, metres, left optical frame) |
| /joint_states | sensor_msgs/msg/JointState |
| /tf | tf2_msgs/msg/TFMessage (base frame -> EE frame, from obs/ee_pose) |
| /tf_static | tf2_msgs/msg/TFMessage (camera parent -> left optical frame), once, if the camera pose is known |

Step i is stamped `start_time_ns + i * step_period_ns`.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np
from rosbags.rosbag2 import StoragePlugin, Writer
from rosbags.typesys import Stores, get_typestore

from dexsim_sim.datasets.hdf5 import Episode

BAG_VERSION = 9
TYPESTORE = Stores.ROS2_KILTED
NS_PER_S = 1_000_000_000
TOPIC_LEFT_IMAGE = "/stereo/left/image_rect"
TOPIC_RIGHT_IMAGE = "/stereo/right/image_rect"
TOPIC_LEFT_INFO = "/stereo/left/camera_info"
TOPIC_RIGHT_INFO = "/stereo/right/camera_info"
TOPIC_DEPTH = "/stereo/depth"
TOPIC_JOINTS = "/joint_states"
TOPIC_TF = "/tf"
TOPIC_TF_STATIC = "/tf_static"


class BagExportError(ValueError):
    """The episode lacks what the bag needs (e.g. camera intrinsics)."""


@dataclass(frozen=True)
class BagFrames:
    """Frame ids written into the bag (REP-105 / CONTRACTS.md names)."""

    base: str = "base_link"
    ee: str = "ee_link"
    left_optical: str = "stereo_left_optical_frame"
    right_optical: str = "stereo_right_optical_frame"
    camera_parent: str = "world"   # frame of the episode's camera["pose"]


def camera_intrinsics(camera: dict[str, Any], image_size: tuple[int, int]) -> np.ndarray:
    """3x3 K for the stored images: camera["K"], scaled when camera["width"/"height"] differ from them."""
    if "K" not in camera:
        raise BagExportError("camera: missing 'K'")
    K = np.asarray(camera["K"], dtype=np.float64).reshape(3, 3).copy()
    h, w = image_size
    if "width" in camera and "height" in camera:
        K[0] *= w / float(camera["width"])
        K[1] *= h / float(camera["height"])
    return K


def export_episode_bag(ep: Episode, out_path: str | Path, step_period_s: float,
                       start_time_ns: int = 0, frames: BagFrames = BagFrames(),
                       joint_names: Sequence[str] | None = None) -> Path:
    """Write `ep` as an MCAP rosbag2 directory at `out_path` (which must not exist)."""
    if step_period_s <= 0:
        raise BagExportError(f"step_period_s: expected > 0, got {step_period_s!r}")
    ts = get_typestore(TYPESTORE)
    T_ = ts.types
    Time, Header = T_["builtin_interfaces/msg/Time"], T_["std_msgs/msg/Header"]
    Image, CameraInfo = T_["sensor_msgs/msg/Image"], T_["sensor_msgs/msg/CameraInfo"]
    RegionOfInterest, JointState = T_["sensor_msgs/msg/RegionOfInterest"], T_["sensor_msgs/msg/JointState"]
    TFMessage, TransformStamped = T_["tf2_msgs/msg/TFMessage"], T_["geometry_msgs/msg/TransformStamped"]
    Transform, Vector3, Quaternion = (T_["geometry_msgs/msg/Transform"], T_["geometry_msgs/msg/Vector3"],
                                      T_["geometry_msgs/msg/Quaternion"])

    h, w = ep.image_size
    K = camera_intrinsics(ep.camera, (h, w))
    baseline = float(ep.camera.get("baseline", 0.0))
    n_joints = ep.obs["joint_pos"].shape[1]
    names = list(joint_names or ep.extra.get("joint_names") or [f"joint_{i}" for i in range(n_joints)])
    if len(names) != n_joints:
        raise BagExportError(f"joint_names: {len(names)} names for {n_joints} joints")
    period_ns = int(round(step_period_s * NS_PER_S))

    def header(t_ns: int, frame: str) -> Any:
        return Header(stamp=Time(sec=t_ns // NS_PER_S, nanosec=t_ns % NS_PER_S), frame_id=frame)

    def image(t_ns: int, frame: str, arr: np.ndarray, encoding: str) -> Any:
        arr = np.ascontiguousarray(arr)
        return Image(header=header(t_ns, frame), height=h, width=w, encoding=encoding, is_bigendian=0,
                     step=arr.strides[0], data=arr.view(np.uint8).reshape(-1))

    def info(t_ns: int, frame: str, tx: float) -> Any:
        P = np.zeros((3, 4))
        P[:, :3] = K
        P[0, 3] = tx
        return CameraInfo(header=header(t_ns, frame), height=h, width=w, distortion_model="plumb_bob",
                          d=np.zeros(5), k=K.reshape(-1), r=np.eye(3).reshape(-1), p=P.reshape(-1),
                          binning_x=0, binning_y=0,
                          roi=RegionOfInterest(x_offset=0, y_offset=0, height=0, width=0, do_rectify=False))

    def transform(t_ns: int, parent: str, child: str, pose: Sequence[float]) -> Any:
        p = [float(v) for v in pose]
        return TransformStamped(header=header(t_ns, parent), child_frame_id=child,
                                transform=Transform(translation=Vector3(x=p[0], y=p[1], z=p[2]),
                                                    rotation=Quaternion(x=p[3], y=p[4], z=p[5], w=p[6])))

    out_path = Path(out_path)
    with Writer(out_path, version=BAG_VERSION, storage_plugin=StoragePlugin.MCAP) as writer:
        conns = {topic: writer.add_connection(topic, msgtype, typestore=ts) for topic, msgtype in (
            (TOPIC_LEFT_IMAGE, Image.__msgtype__), (TOPIC_RIGHT_IMAGE, Image.__msgtype__),
            (TOPIC_LEFT_INFO, CameraInfo.__msgtype__), (TOPIC_RIGHT_INFO, CameraInfo.__msgtype__),
            (TOPIC_DEPTH, Image.__msgtype__), (TOPIC_JOINTS, JointState.__msgtype__),
            (TOPIC_TF, TFMessage.__msgtype__), (TOPIC_TF_STATIC, TFMessage.__msgtype__))}

        def write(topic: str, t_ns: int, msg: Any) -> None:
            writer.write(conns[topic], t_ns, ts.serialize_cdr(msg, msg.__msgtype__))

        if "pose" in ep.camera:
            write(TOPIC_TF_STATIC, start_time_ns, TFMessage(transforms=[
                transform(start_time_ns, frames.camera_parent, frames.left_optical, ep.camera["pose"])]))
        for i in range(ep.num_steps):
            t = start_time_ns + i * period_ns
            write(TOPIC_LEFT_IMAGE, t, image(t, frames.left_optical, ep.obs["left_rgb"][i], "rgb8"))
            write(TOPIC_RIGHT_IMAGE, t, image(t, frames.right_optical, ep.obs["right_rgb"][i], "rgb8"))
            write(TOPIC_LEFT_INFO, t, info(t, frames.left_optical, 0.0))
            write(TOPIC_RIGHT_INFO, t, info(t, frames.right_optical, -K[0, 0] * baseline))
            write(TOPIC_DEPTH, t, image(t, frames.left_optical, ep.obs["depth"][i].astype("<f4"), "32FC1"))
            write(TOPIC_JOINTS, t, JointState(header=header(t, ""), name=names,
                                              position=ep.obs["joint_pos"][i].astype(np.float64),
                                              velocity=ep.obs["joint_vel"][i].astype(np.float64),
                                              effort=np.zeros(0)))
            write(TOPIC_TF, t, TFMessage(transforms=[transform(t, frames.base, frames.ee, ep.obs["ee_pose"][i])]))
    return out_path
