"""A custom message round trip and a custom action (feedback, result, cancel) between two OS
processes over real DDS with the loopback profile."""
from __future__ import annotations

import sys
from pathlib import Path

import pytest
from action_msgs.msg import GoalStatus
from geometry_msgs.msg import Pose, Vector3
from rclpy.action import ActionClient
from std_msgs.msg import ColorRGBA

from dexsim_msgs.action import GenerateDataset
from dexsim_msgs.msg import ObjectSpec, SceneDescription

pytestmark = pytest.mark.ros
PEER = Path(__file__).with_name("peer_echo.py")


def _scene() -> SceneDescription:
    scene = SceneDescription(name="cross_process", robot="wx250s", table_texture="wood_light")
    scene.header.frame_id = "world"
    for i, cat in enumerate(("can", "mug")):
        pose = Pose()
        pose.position.x, pose.position.y, pose.position.z = 0.3 + 0.1 * i, -0.05, 0.0
        scene.objects.append(ObjectSpec(name=f"obj{i}", category=cat, asset_id=f"{cat}_small", role="target",
                                        pose=pose, scale=Vector3(x=1.0, y=1.0, z=1.1),
                                        color=ColorRGBA(r=0.75, g=0.125, b=0.25, a=1.0), mass=0.12, friction=0.8,
                                        confidence=0.93))
    return scene


@pytest.fixture
def peer(ros):
    proc = ros.spawn([sys.executable, str(PEER)], "peer_echo")
    client = ActionClient(ros.node, GenerateDataset, "/dexsim_test/generate")
    assert client.wait_for_server(timeout_sec=20), ros.peer_log(proc)
    yield proc, client
    assert proc.poll() is None, f"peer died: {ros.peer_log(proc)}"
    client.destroy()


def test_scene_description_round_trip(ros, peer):
    got: list[SceneDescription] = []
    ros.node.create_subscription(SceneDescription, "/dexsim_test/scene_out", got.append, 10)
    pub = ros.node.create_publisher(SceneDescription, "/dexsim_test/scene_in", 10)
    sent = _scene()
    assert ros.wait_for(lambda: pub.get_subscription_count() > 0, 10)
    assert ros.wait_for(lambda: (pub.publish(sent), bool(got))[1], 10, interval=0.1)
    echo = got[0]
    assert echo == sent  # every field, nested arrays included (colours are float32: exact binary fractions)


def test_generate_dataset_action_feedback_and_result(ros, peer):
    _, client = peer
    feedback: list[GenerateDataset.Feedback] = []
    goal = GenerateDataset.Goal(robot="sr3", task="grasp", episodes=5, output_dir="/tmp/x", workers=1, seed=7)
    handle = ros.wait_future(client.send_goal_async(goal, feedback_callback=lambda m: feedback.append(m.feedback)))
    assert handle.accepted
    result = ros.wait_future(handle.get_result_async(), timeout=20)
    assert result.status == GoalStatus.STATUS_SUCCEEDED
    assert result.result.success and result.result.episodes_done == 5 and result.result.dataset_path == "/tmp/x"
    # every feedback arrives, in order (rclpy drops feedback that comes after the client saw the
    # goal finish, so the very last one may race the result)
    done = [f.episodes_done for f in feedback]
    assert done == list(range(1, len(done) + 1)) and len(done) >= 4, done
    assert all(f.episodes_total == 5 for f in feedback)


def test_generate_dataset_action_cancel_and_reject(ros, peer):
    _, client = peer
    feedback: list = []
    goal = GenerateDataset.Goal(robot="sr3", task="grasp", episodes=400, output_dir="/tmp/y")
    handle = ros.wait_future(client.send_goal_async(goal, feedback_callback=feedback.append))
    assert handle.accepted
    assert ros.wait_for(lambda: len(feedback) >= 2, 10)
    ros.wait_future(handle.cancel_goal_async())
    result = ros.wait_future(handle.get_result_async(), timeout=20)
    assert result.status == GoalStatus.STATUS_CANCELED
    assert 2 <= result.result.episodes_done < 400

    rejected = ros.wait_future(client.send_goal_async(GenerateDataset.Goal(episodes=0)))
    assert not rejected.accepted
