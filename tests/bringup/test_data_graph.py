"""The data graph over DDS, driven by an independent client: a stereo pair through
/dexsim/project_scene, the hand track through /dexsim/project_demonstration, and both results
through /dexsim/generate_dataset -> a physics-verified dataset of the projected skill in the
projected scene (the object the demonstration grasps becomes the target)."""
from __future__ import annotations

import json
from dataclasses import replace

import pytest
from action_msgs.msg import GoalStatus
from rclpy.action import ActionClient

from dexsim_bringup import graph as g
from dexsim_bringup.launcher import Launcher
from dexsim_msgs.action import GenerateDataset, ProjectDemonstration
from dexsim_msgs.srv import ProjectScene
from dexsim_sim.datasets.hdf5 import validate_dataset
from dexsim_sim.projection.pipeline import RealInputs
from dexsim_sim.ros.projection_requests import demonstration_goal, scene_request
from dexsim_sim.world.scene import load_scene

pytestmark = pytest.mark.ros
ROBOT = "wx250s"


def test_stereo_pair_and_track_to_a_dataset_through_the_data_graph(ros, tmp_path):
    graph = g.data_graph(ROBOT, "grasp", output_dir=str(tmp_path / "default"))
    graph = replace(graph, nodes=tuple(g.with_parameters(n, image_height=48, image_width=64, episodes_per_shard=1)
                                       if n.name == "dexsim_scaling" else n for n in graph.nodes))
    scene_srv = ros.node.create_client(ProjectScene, "/dexsim/project_scene")
    demo = ActionClient(ros.node, ProjectDemonstration, "/dexsim/project_demonstration")
    generate = ActionClient(ros.node, GenerateDataset, "/dexsim/generate_dataset")
    with Launcher(graph, log_dir=tmp_path / "logs", quiet=True) as launcher:
        logs = lambda: [n.log.read_text()[-1500:] for n in launcher.nodes]   # noqa: E731
        assert scene_srv.wait_for_service(timeout_sec=90), logs()
        assert demo.wait_for_server(timeout_sec=90) and generate.wait_for_server(timeout_sec=90), logs()
        inputs = RealInputs.bundled(ROBOT)
        request = scene_request(inputs)
        request.output_scene_file = str(tmp_path / "scene.yaml")
        # one long try: a projection is not worth re-sending while the first request still runs
        reply = ros.call(scene_srv, request, 360, attempts=1)
        assert reply.success, reply.message
        assert not any(o.role == "target" for o in load_scene(reply.scene_file).objects)   # projection alone
        goal = demonstration_goal(inputs)
        goal.output_file = str(tmp_path / "keyposes.json")
        handle = ros.wait_future(demo.send_goal_async(goal), 30)
        done = ros.wait_future(handle.get_result_async(), timeout=120)
        assert done.status == GoalStatus.STATUS_SUCCEEDED, done.result.message
        ds = tmp_path / "ds"
        handle = ros.wait_future(generate.send_goal_async(GenerateDataset.Goal(
            robot=ROBOT, task="grasp", spec_file="nominal/grasp", episodes=2, output_dir=str(ds),
            scene_file=reply.scene_file, skill_file=done.result.output_file)), 30)
        assert handle.accepted
        result = ros.wait_future(handle.get_result_async(), timeout=300)
        launcher.check_alive()
    assert result.status == GoalStatus.STATUS_SUCCEEDED, result.result.message
    card = json.loads(result.result.card_json)
    assert validate_dataset(ds) == card["num_episodes"] == 2 - result.result.episodes_failed >= 1
    scene = load_scene(card["extra"]["scene_file"])
    target = [o for o in scene.objects if o.role == "target"]
    assert len(target) == 1 and target[0].name == "target" and target[0].category == "box"   # the grasped cube
    assert card["extra"]["seed_skill"]["keyposes"][-1]["label"] == "hold"
