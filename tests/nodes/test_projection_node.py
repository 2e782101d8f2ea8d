"""The projection node over real DDS (separate process): scene service with the bundled stereo
pair, demonstration action with feedback and cancel, named errors on bad input."""
from __future__ import annotations

import json

import sys

import cv2
import numpy as np
import pytest
from action_msgs.msg import GoalStatus
from rclpy.action import ActionClient

from dexsim_msgs.action import ProjectDemonstration
from dexsim_msgs.srv import ProjectScene
from dexsim_sim.projection.hand_track import SyntheticDemoConfig, look_at_camera, save_track, synthesize_demo
from dexsim_sim.projection.pipeline import RealInputs, default_base_pose, demo_inputs, load_camera_info, load_camera_pose
from dexsim_sim.ros.projection_requests import demonstration_goal, pose_msg, scene_request

pytestmark = pytest.mark.ros
ROBOT = "wx250s"


@pytest.fixture
def node(ros):
    proc = ros.spawn([sys.executable, "-m", "dexsim_sim.nodes.projection_node"], "projection_node")
    scene = ros.node.create_client(ProjectScene, "/dexsim/project_scene")
    demo = ActionClient(ros.node, ProjectDemonstration, "/dexsim/project_demonstration")
    assert scene.wait_for_service(timeout_sec=30), ros.peer_log(proc)
    assert demo.wait_for_server(timeout_sec=30), ros.peer_log(proc)
    yield proc, scene, demo
    assert proc.poll() is None, f"projection node died: {ros.peer_log(proc)}"
    demo.destroy()


def _scene_request() -> ProjectScene.Request:
    return scene_request(RealInputs.bundled(ROBOT))


def test_scene_service_projects_bundled_pair_and_rejects_garbage(ros, node, tmp_path):
    _, scene, _ = node
    request = _scene_request()
    request.output_scene_file = str(tmp_path / "projected.yaml")
    reply = ros.call(scene, request, 60)
    assert reply.success, reply.message
    assert sorted(o.category for o in reply.scene.objects) == ["bottle", "box", "can", "cup"]
    assert len(reply.fit_error) == len(reply.scene.objects) and max(reply.fit_error) < 0.02
    assert reply.scene_file == request.output_scene_file and (tmp_path / "projected.yaml").is_file()
    # the arm (at home in the bundled pair) is masked by the joint state; told a joint state the arm
    # is not in, the node masks the wrong pixels and the arm's points come back as unmatched ones
    moved = _scene_request()
    moved.joint_state.name, moved.joint_state.position = ["waist"], [1.2]
    reply_moved = ros.call(scene, moved, 60)

    from dexsim_sim.projection.robot_mask import robot_mask
    from dexsim_sim.projection.stereo import StereoIntrinsics

    paths = demo_inputs()
    left_info, right_info = load_camera_info(paths["camera_info"])
    intr = StereoIntrinsics.from_camera_info(left_info, right_info)
    arm = robot_mask(ROBOT, load_camera_pose(paths["camera_pose"], default_base_pose(ROBOT)), intr.K, intr.width,
                     intr.height)                                   # where the arm really is (home)

    def arm_in_unmatched(r) -> float:
        covered = np.zeros_like(arm)
        for u in r.unmatched:
            u0, v0, u1, v1 = json.loads(u)["observation"]["pixel_bbox"]
            covered[v0:v1 + 1, u0:u1 + 1] = True
        return (covered & arm).sum() / arm.sum()

    assert reply_moved.success and arm_in_unmatched(reply) < 0.1
    assert arm_in_unmatched(reply_moved) > arm_in_unmatched(reply) + 0.1

    bad = _scene_request()
    bad.left_info = type(bad.left_info)()                          # CameraInfo left unset
    reply = ros.call(scene, bad, 30)
    assert not reply.success and "CameraInfoError" in reply.message and "left: CameraInfo is missing" in reply.message
    garbled = _scene_request()
    garbled.right_image.data = garbled.right_image.data[:100]      # truncated image buffer
    reply = ros.call(scene, garbled, 30)
    assert not reply.success and "ConversionError" in reply.message


def _demo_goal(track_file: str, depth_dir: str = "") -> ProjectDemonstration.Goal:
    return demonstration_goal(RealInputs.bundled(ROBOT), track_file, depth_dir)


def test_demonstration_action_feedback_result_and_errors(ros, node, tmp_path):
    _, _, demo = node
    feedback: list = []
    goal = _demo_goal(str(demo_inputs()["track"]))
    goal.output_file = str(tmp_path / "keyposes.json")
    handle = ros.wait_future(demo.send_goal_async(goal, feedback_callback=lambda m: feedback.append(m.feedback)))
    assert handle.accepted
    result = ros.wait_future(handle.get_result_async(), timeout=60)
    assert result.status == GoalStatus.STATUS_SUCCEEDED, result.result.message
    labels = [k.label for k in result.result.keyposes.keyposes]
    assert "grasp" in labels and result.result.keyposes.header.frame_id == "base_link"
    assert result.result.keyposes.keyposes[labels.index("grasp")].gripper_closed
    assert len(result.result.keyposes.trajectory) == len(result.result.keyposes.trajectory_time) > 100
    assert (tmp_path / "keyposes.json").is_file()
    assert ros.wait_for(lambda: feedback and feedback[-1].stage == "retarget", 5)
    assert feedback[-1].frames_done == feedback[-1].frames_total > 100

    garbled = tmp_path / "garbled.json"
    garbled.write_text('{"format": "dexsim-hand-track", "frames": [')
    result = ros.wait_future(demo.send_goal_async(_demo_goal(str(garbled))), timeout=10)
    result = ros.wait_future(result.get_result_async(), timeout=30)
    assert result.status == GoalStatus.STATUS_ABORTED
    assert "TrackError" in result.result.message and "garbled.json:1:" in result.result.message and "invalid JSON" in result.result.message


def test_demonstration_action_cancel(ros, node, tmp_path):
    """A track with per-frame depth PNGs (slower to read): cancelled at the first feedback."""
    _, _, client = node
    camera = look_at_camera()
    demo = synthesize_demo(SyntheticDemoConfig(seed=2, durations_s=(2.0, 1.6, 1.0, 0.6, 1.6, 2.4, 1.6, 0.8, 1.6)),
                            camera)
    depth_dir = tmp_path / "depth"
    depth_dir.mkdir()
    plane = np.full((camera.height, camera.width), 800, np.uint16)   # mm
    for f in demo.track.frames:
        cv2.imwrite(str(depth_dir / f"{f.frame:06d}.png"), plane)
    track_file = save_track(demo.track, tmp_path / "long_track.json")
    feedback: list = []
    sent: dict = {}

    def on_feedback(msg):
        feedback.append(msg.feedback)
        if "cancel" not in sent and "handle" in sent:
            sent["cancel"] = sent["handle"].cancel_goal_async()

    goal = _demo_goal(str(track_file), str(depth_dir))
    goal.camera_pose_in_base = pose_msg(camera.base_from_optical)
    handle = ros.wait_future(client.send_goal_async(goal, feedback_callback=on_feedback))
    sent["handle"] = handle
    result = ros.wait_future(handle.get_result_async(), timeout=60)
    assert result.status == GoalStatus.STATUS_CANCELED, result.result.message
    assert not result.result.success and "cancelled after" in result.result.message
    assert feedback[-1].frames_done < feedback[-1].frames_total
