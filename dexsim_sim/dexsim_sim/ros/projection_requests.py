"""The projection node's requests from files: what a Python client sends to the data graph's
``/dexsim/project_scene`` service and ``/dexsim/project_demonstration`` action for a user's inputs
(:class:`dexsim_sim.projection.pipeline.RealInputs`, e.g. ``RealInputs.bundled()``)."""
from __future__ import annotations

from ..projection.pipeline import default_base_pose, load_camera_info, load_camera_pose, load_image, parse_pose7
from ..robots.transforms import matrix_to_pose
from .conversions import camera_info_msg, image_to_msg

RECTIFIED = {"D": [0.0] * 5, "R": [1.0, 0, 0, 0, 1.0, 0, 0, 0, 1.0], "distortion_model": "plumb_bob"}


def pose_msg(tf):
    """geometry_msgs/Pose of a 4x4 transform."""
    from geometry_msgs.msg import Pose

    x, y, z, qx, qy, qz, qw = matrix_to_pose(tf)
    msg = Pose()
    msg.position.x, msg.position.y, msg.position.z = x, y, z
    msg.orientation.x, msg.orientation.y, msg.orientation.z, msg.orientation.w = qx, qy, qz, qw
    return msg


def rectified_info_msg(info: dict, frame_id: str = "stereo_left_optical_frame"):
    """CameraInfo of a rectified camera (zero distortion, identity R) from a K/P/size dict."""
    return camera_info_msg({**RECTIFIED, "frame_id": frame_id, **info})


def _camera(inputs):
    base_pose = parse_pose7(inputs.base_pose, "base pose") if inputs.base_pose is not None \
        else default_base_pose(inputs.robot)
    left, right = load_camera_info(inputs.camera_info)
    return left, right, load_camera_pose(inputs.camera_pose, base_pose)


def scene_request(inputs):
    """ProjectScene.Request for the stereo pair of ``inputs``."""
    from dexsim_msgs.srv import ProjectScene

    left_info, right_info, base_from_optical = _camera(inputs)
    return ProjectScene.Request(left_image=image_to_msg(load_image(inputs.left, "left image")),
                                right_image=image_to_msg(load_image(inputs.right, "right image")),
                                left_info=rectified_info_msg(left_info),
                                right_info=rectified_info_msg(right_info or left_info, "stereo_right_optical_frame"),
                                camera_pose_in_base=pose_msg(base_from_optical), robot=inputs.robot)


def demonstration_goal(inputs, track_file: str | None = None, depth_dir: str = ""):
    """ProjectDemonstration.Goal for the hand track of ``inputs`` (or ``track_file``)."""
    from dexsim_msgs.action import ProjectDemonstration

    left_info, _, base_from_optical = _camera(inputs)
    return ProjectDemonstration.Goal(track_file=str(track_file or inputs.track), depth_dir=depth_dir,
                                     camera_info=rectified_info_msg(left_info),
                                     camera_pose_in_base=pose_msg(base_from_optical), robot=inputs.robot)
