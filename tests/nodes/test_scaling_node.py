"""The scaling node over real DDS: goal -> feedback -> result with a valid tiny dataset; cancel ->
a valid partial dataset."""
from __future__ import annotations

import json
import sys

import pytest
from action_msgs.msg import GoalStatus
from rclpy.action import ActionClient

from dexsim_msgs.action import GenerateDataset
from dexsim_sim.datasets.hdf5 import validate_dataset

pytestmark = pytest.mark.ros
NODE_ARGS = ["-m", "dexsim_sim.nodes.scaling_node", "--ros-args", "-p", "image_height:=48", "-p", "image_width:=64",
             "-p", "episodes_per_shard:=1", "-p", "renderer:=tiny"]


@pytest.fixture
def client(ros):
    proc = ros.spawn([sys.executable, *NODE_ARGS], "scaling_node")
    c = ActionClient(ros.node, GenerateDataset, "/dexsim/generate_dataset")
    assert c.wait_for_server(timeout_sec=30), ros.peer_log(proc)
    yield c
    assert proc.poll() is None, f"node died: {ros.peer_log(proc)}"
    c.destroy()


def test_goal_feedback_result(ros, client, tmp_path):
    feedback: list = []
    goal = GenerateDataset.Goal(robot="sr3", task="grasp", episodes=2, output_dir=str(tmp_path / "ds"), seed=1)
    handle = ros.wait_future(client.send_goal_async(goal, feedback_callback=lambda m: feedback.append(m.feedback)))
    assert handle.accepted
    result = ros.wait_future(handle.get_result_async(), timeout=120)
    assert result.status == GoalStatus.STATUS_SUCCEEDED, result.result.message
    r = result.result
    assert r.success and r.episodes_done == 2 and r.dataset_path == str(tmp_path / "ds")
    # Feedback is a topic and the result a service: rclpy's client drops feedback that arrives after
    # it has seen the goal finish, so the last one may be missing; what arrives must count up.
    assert ros.wait_for(lambda: len(feedback) >= 1, 10)
    done = [f.episodes_done for f in feedback]
    assert done == sorted(set(done)) and 1 <= done[0] and done[-1] <= 2, done
    assert all(f.episodes_total == 2 for f in feedback)
    card = json.loads(r.card_json)
    assert validate_dataset(tmp_path / "ds") == card["num_episodes"] == 2 - r.episodes_failed
    rejected = ros.wait_future(client.send_goal_async(GenerateDataset.Goal(episodes=0, output_dir="/tmp/x")))
    assert not rejected.accepted


def test_cancel_leaves_a_valid_partial_dataset(ros, client, tmp_path):
    feedback: list = []
    goal = GenerateDataset.Goal(robot="sr3", task="grasp", episodes=200, output_dir=str(tmp_path / "part"))
    handle = ros.wait_future(client.send_goal_async(goal, feedback_callback=lambda m: feedback.append(m.feedback)))
    assert handle.accepted
    assert ros.wait_for(lambda: len(feedback) >= 1, 120)
    ros.wait_future(handle.cancel_goal_async())
    result = ros.wait_future(handle.get_result_async(), timeout=120)
    assert result.status == GoalStatus.STATUS_CANCELED
    r = result.result
    assert 1 <= r.episodes_done < 200 and "partial" in r.message
    assert validate_dataset(tmp_path / "part") == json.loads(r.card_json)["num_episodes"] >= 1
    assert not list((tmp_path / "part").glob("*.partial"))


def test_goal_with_a_scene_and_a_projected_skill(ros, client, tmp_path):
    """GenerateDataset.scene_file/skill_file: the projected demonstration scaled in its scene; a
    skill file it cannot use aborts the goal with the reason."""
    from pathlib import Path

    import dexsim_sim.demo_data
    from dexsim_bringup.cli import main

    assert main(["project", "demo", "--out", str(tmp_path / "demo")]) == 0
    scene = str(Path(dexsim_sim.demo_data.__file__).parent / "scene.yaml")
    goal = GenerateDataset.Goal(robot="wx250s", task="grasp", spec_file="nominal/grasp", episodes=1,
                                output_dir=str(tmp_path / "ds"), scene_file=scene,
                                skill_file=str(tmp_path / "demo" / "keyposes.json"))
    handle = ros.wait_future(client.send_goal_async(goal))
    result = ros.wait_future(handle.get_result_async(), timeout=120)
    assert result.status == GoalStatus.STATUS_SUCCEEDED, result.result.message
    extra = json.loads(result.result.card_json)["extra"]
    assert extra["scene_file"] == scene and extra["seed_skill"]["keyposes"][-1]["label"] == "hold"
    bad = GenerateDataset.Goal(robot="wx250s", task="grasp", episodes=1, output_dir=str(tmp_path / "bad"),
                               skill_file=str(tmp_path / "missing.json"))
    handle = ros.wait_future(client.send_goal_async(bad))
    result = ros.wait_future(handle.get_result_async(), timeout=60)
    assert result.status == GoalStatus.STATUS_ABORTED and "skill_file: --skill: file not found" in result.result.message


def test_bad_input_corpus_goals_abort_with_a_named_error_and_the_node_stays_up(ros, client, tmp_path):
    """The CLI corpus's generate cases (tests/bad_input/cases.yaml), as goal fields: each goal is
    aborted with the same named error, its output_dir is never created, and the node serves the next."""
    from pathlib import Path

    import yaml

    corpus = Path(__file__).resolve().parents[1] / "bad_input"
    fields = {"--spec": "spec_file", "--scene": "scene_file", "--skill": "skill_file"}
    cases = []
    for case in yaml.safe_load((corpus / "cases.yaml").read_text()):
        argv = case["argv"]
        flags = [a for a in argv if a in fields]
        if argv[0] == "generate" and len(flags) == 1:
            path = argv[argv.index(flags[0]) + 1].replace("{c}", str(corpus))
            cases.append((case["id"], fields[flags[0]], path, case["expect"]))
    assert len(cases) >= 10
    for i, (cid, field, path, expect) in enumerate(cases):
        out = tmp_path / f"out{i}"
        goal = GenerateDataset.Goal(task="grasp", episodes=1, output_dir=str(out), **{field: path})
        handle = ros.wait_future(client.send_goal_async(goal), timeout=60)
        assert handle.accepted, cid
        result = ros.wait_future(handle.get_result_async(), timeout=120)
        assert result.status == GoalStatus.STATUS_ABORTED, (cid, result.result.message)
        message = result.result.message
        assert expect in message and "\n" not in message and "Traceback" not in message, (cid, message)
        assert not out.exists(), (cid, f"{out} was created")
