"""Real2Sim projection node: a thin rclpy shell over :mod:`dexsim_sim.projection.pipeline`.

- service ``/dexsim/project_scene`` (dexsim_msgs/ProjectScene): stereo pair (or left image + depth)
  -> SceneDescription of matched library assets, optionally written as a scene file;
- action ``/dexsim/project_demonstration`` (dexsim_msgs/ProjectDemonstration): hand track file ->
  KeyposeSequence; feedback per processed frame; cancellable between frames.

Bad input never kills the node: the reply carries success=false and a message naming the problem.
"""
from __future__ import annotations

import sys

import json
import threading
from pathlib import Path

import numpy as np
from geometry_msgs.msg import Pose, Vector3
from rclpy.action import ActionServer, CancelResponse, GoalResponse
from rclpy.callback_groups import ReentrantCallbackGroup
from rclpy.node import Node
from std_msgs.msg import ColorRGBA

from dexsim_msgs.action import ProjectDemonstration
from dexsim_msgs.msg import Keypose, KeyposeSequence, ObjectSpec, SceneDescription
from dexsim_msgs.srv import ProjectScene

from ..projection.hand_track import load_track
from ..projection.pipeline import (DEFAULT_WORKSPACE_XY_M, INPUT_ERRORS, ProjectionCancelled, default_base_pose,
                                   project_demo, project_stereo, write_scene_outputs)
from ..projection.retarget import RetargetConfig, save_keyposes
from ..projection.scene_projection import SceneProjectionConfig
from ..robots.registry import UnknownRobotError
from ..robots.transforms import pose_to_matrix
from ..ros.params import NodeParams, Param, declare
from ..ros.conversions import ConversionError, duration_msg, msg_depth_m, msg_rgb
from dexsim_sim.ros.node_main import run_node

NODE_NAME = "projection_node"
SCENE_SERVICE = "/dexsim/project_scene"
DEMO_ACTION = "/dexsim/project_demonstration"
NODE_ERRORS = INPUT_ERRORS + (ConversionError, UnknownRobotError)


def _info_dict(msg) -> dict | None:
    """CameraInfo message -> dict (None when unset: an all-zero K, the message default)."""
    if not np.any(np.asarray(msg.k, float)):
        return None
    return {"width": int(msg.width), "height": int(msg.height), "K": list(map(float, msg.k)),
            "P": list(map(float, msg.p)), "frame_id": msg.header.frame_id}


def _pose_matrix(msg: Pose, what: str) -> np.ndarray:
    q = msg.orientation
    pose = np.array([msg.position.x, msg.position.y, msg.position.z, q.x, q.y, q.z, q.w], float)
    if np.linalg.norm(pose[3:]) < 1e-6:
        raise ConversionError(f"{what}: orientation quaternion is all zero (unset)")
    return pose_to_matrix(pose)


def _pose_msg(pose7) -> Pose:
    msg = Pose()
    msg.position.x, msg.position.y, msg.position.z = (float(v) for v in pose7[:3])
    o = msg.orientation
    o.x, o.y, o.z, o.w = (float(v) for v in pose7[3:])
    return msg


PARAMS = NodeParams("projection_node", (
    Param("robot", "wx250s", "robot used when a request leaves 'robot' empty"),
    Param("output_dir", "", "folder that relative output_scene_file / output_file paths of requests are resolved against"),
    Param("min_confidence", SceneProjectionConfig().min_confidence,
          "asset matching: best match below this confidence -> the object is reported unmatched", low=0.0, high=1.0),
    Param("workspace_xy_m", [float(v) for v in DEFAULT_WORKSPACE_XY_M],
          "base-frame box x_min, x_max, y_min, y_max (m) searched for objects"),
    Param("max_gap_frames", RetargetConfig().max_gap_frames,
          "demonstrations: longer runs of frames without a hand detection are an error", low=0),
))


class ProjectionNode(Node):
    def __init__(self) -> None:
        super().__init__(NODE_NAME)
        self.p = declare(self, PARAMS, read_only=False)
        group = ReentrantCallbackGroup()
        self._service = self.create_service(ProjectScene, SCENE_SERVICE, self._on_project_scene, callback_group=group)
        self._action = ActionServer(self, ProjectDemonstration, DEMO_ACTION, execute_callback=self._on_demo,
                                    goal_callback=lambda _goal: GoalResponse.ACCEPT,
                                    cancel_callback=lambda _handle: CancelResponse.ACCEPT, callback_group=group)
        self._lock = threading.Lock()              # one projection at a time (CPU-bound)
        self.get_logger().info(f"{NODE_NAME}: serving {SCENE_SERVICE} and {DEMO_ACTION}")

    def _param(self, name: str):
        return self.get_parameter(name).value

    def _out_path(self, name: str) -> Path:
        path = Path(name)
        return path if path.is_absolute() else Path(self._param("output_dir") or ".") / path

    # ------------------------------------------------------------ scene
    def _on_project_scene(self, request, response):
        try:
            with self._lock:
                self._project_scene(request, response)
            response.success = True
            response.message = f"{len(response.scene.objects)} objects, {len(response.unmatched)} unmatched"
        except NODE_ERRORS as exc:
            response.success, response.message = False, f"{type(exc).__name__}: {exc}"
            self.get_logger().warning(f"project_scene: {response.message}")
        return response

    def _project_scene(self, request, response) -> None:
        if request.left_image.width == 0 or request.left_image.height == 0:
            raise ConversionError("left_image: empty image")
        left = msg_rgb(request.left_image)
        has_depth = request.depth.width > 0
        right = None if has_depth else msg_rgb(request.right_image) if request.right_image.width else None
        depth = msg_depth_m(request.depth) if has_depth else None
        robot = request.robot or self._param("robot")
        base_pose = default_base_pose(robot)
        config = SceneProjectionConfig(min_confidence=float(self._param("min_confidence")),
                                       workspace_xy_m=tuple(float(v) for v in self._param("workspace_xy_m")))
        joints = dict(zip(request.joint_state.name, request.joint_state.position))   # empty: the robot at home
        result = project_stereo(left, right, _info_dict(request.left_info), _info_dict(request.right_info),
                                _pose_matrix(request.camera_pose_in_base, "camera_pose_in_base"), base_pose,
                                depth, config, robot=robot, joints=joints)
        if request.output_scene_file:
            target = self._out_path(request.output_scene_file)
            write_scene_outputs(result, target.parent, target.stem, robot, base_pose)
            response.scene_file = str(result.scene_file)
        scene = SceneDescription(name=Path(request.output_scene_file).stem or "projected_scene", robot=robot,
                                 robot_base_pose=_pose_msg(base_pose))
        scene.header.frame_id = "world"
        scene.header.stamp = self.get_clock().now().to_msg()
        for obj in result.projection.objects:
            r, g, b = (float(v) for v in obj.observation.color_rgb)
            scene.objects.append(ObjectSpec(
                name=obj.name, category=obj.match.category, asset_id=obj.match.asset_id,
                pose=_pose_msg(obj.pose_world), scale=Vector3(x=float(obj.scale[0]), y=float(obj.scale[1]),
                                                              z=float(obj.scale[2])),
                color=ColorRGBA(r=r, g=g, b=b, a=1.0), confidence=float(obj.match.confidence)))
        response.scene = scene
        response.fit_error = [float(o.fit_error_m) for o in result.projection.objects]
        response.unmatched = [json.dumps(u) for u in result.projection.report()["unmatched"]]

    # ------------------------------------------------------------ demonstration
    def _on_demo(self, goal_handle):
        request = goal_handle.request
        result = ProjectDemonstration.Result()
        feedback = ProjectDemonstration.Feedback()

        def progress(done: int, total: int, stage: str) -> bool:
            feedback.frames_done, feedback.frames_total, feedback.stage = done, total, stage
            goal_handle.publish_feedback(feedback)
            return not goal_handle.is_cancel_requested

        try:
            with self._lock:
                robot = request.robot or self._param("robot")
                default_base_pose(robot)                       # UnknownRobotError names the valid robots
                seq = project_demo(load_track(request.track_file),
                                   _pose_matrix(request.camera_pose_in_base, "camera_pose_in_base"),
                                   _info_dict(request.camera_info), request.depth_dir or None,
                                   RetargetConfig(max_gap_frames=int(self._param("max_gap_frames"))), progress)
                seq.meta = dict(seq.meta, robot=robot, frame="base_link")
                if request.output_file:
                    result.output_file = str(save_keyposes(seq, self._out_path(request.output_file)))
        except ProjectionCancelled as exc:
            goal_handle.canceled()
            result.success, result.message = False, str(exc)
            return result
        except NODE_ERRORS as exc:
            goal_handle.abort()
            result.success, result.message = False, f"{type(exc).__name__}: {exc}"
            self.get_logger().warning(f"project_demonstration: {result.message}")
            return result
        result.keyposes = self._keypose_msg(seq, robot)
        result.success, result.message = True, f"{len(seq.labels)} keyposes from {len(seq.dense_frames)} frames"
        goal_handle.succeed()
        return result

    def _keypose_msg(self, seq, robot: str) -> KeyposeSequence:
        msg = KeyposeSequence(robot=robot, task="grasp")
        msg.header.frame_id = "base_link"
        msg.header.stamp = self.get_clock().now().to_msg()
        t0 = float(seq.dense_times[0])
        first = int(seq.dense_frames[0])
        for label, frame, t, pose, opening in zip(seq.labels, seq.frames, seq.times, seq.poses, seq.openings):
            msg.keyposes.append(Keypose(label=label, time_from_start=duration_msg(float(t) - t0), pose=_pose_msg(pose),
                                        gripper_opening=float(opening),
                                        gripper_closed=bool(seq.dense_closed[frame - first])))
        msg.trajectory = [_pose_msg(p) for p in seq.dense_poses]
        msg.trajectory_time = [float(t) - t0 for t in seq.dense_times]
        msg.trajectory_gripper_opening = [float(v) for v in seq.dense_openings]
        return msg


def main(args: list[str] | None = None) -> int:
    return run_node(ProjectionNode, name="projection_node", num_threads=2, args=args)


if __name__ == "__main__":
    sys.exit(main())
