"""real/record/data launch files build exactly the graphs pip mode runs; the real graph swaps
drivers by argument and leaves the policy node unchanged."""
from __future__ import annotations

import importlib.util
import inspect
import sys

import pytest

from dexsim_bringup import graph as g
from dexsim_bringup import hardware
from dexsim_bringup.launch_support import MissingPackageError, defaults, require_packages

LAUNCH_FILES = ("sim.launch.py", "real.launch.py", "record.launch.py", "data.launch.py", "moveit.launch.py")


def _launch_module(repo_root, name):
    path = repo_root / "dexsim_bringup" / "launch" / name
    spec = importlib.util.spec_from_file_location(name.replace(".", "_"), path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.mark.parametrize("name", LAUNCH_FILES)
def test_every_argument_is_described_used_and_valid_by_default(repo_root, name):
    mod = _launch_module(repo_root, name)
    assert [a.name for a in mod.ARGUMENTS] == list(inspect.signature(mod.make_graph).parameters)
    for a in mod.ARGUMENTS:
        assert a.description and (a.choices is None or a.default in a.choices), a.name
    assert isinstance(mod.make_graph(**defaults(mod.ARGUMENTS)), g.Graph)


def test_defaults_equal_pip_mode_graphs(repo_root):
    assert _launch_module(repo_root, "real.launch.py").make_graph(
        **defaults(_launch_module(repo_root, "real.launch.py").ARGUMENTS)) == g.real_graph()
    rec = _launch_module(repo_root, "record.launch.py")
    assert rec.make_graph(**defaults(rec.ARGUMENTS)) == g.record_graph("dexsim_bag")
    data = _launch_module(repo_root, "data.launch.py")
    assert data.make_graph(**defaults(data.ARGUMENTS)) == g.data_graph()


def test_sim_launch_and_up_take_a_scene_and_a_dr_spec(repo_root):
    from dexsim_bringup.cli import build_parser

    sim = _launch_module(repo_root, "sim.launch.py")
    built = sim.make_graph(**defaults(sim.ARGUMENTS) | {"scene_file": "/s/projected.yaml", "dr_spec": "grasp"})
    assert built == g.sim_graph(scene_file="/s/projected.yaml", dr_spec="grasp")
    params = built.node("dexsim_sim").parameters
    assert (params["scene_file"], params["dr_spec"]) == ("/s/projected.yaml", "grasp")
    args = build_parser().parse_args(["up", "sim", "--scene", "/s/projected.yaml", "--spec", "grasp"])
    assert (args.scene, args.spec) == ("/s/projected.yaml", "grasp")


@pytest.mark.parametrize("robot", g.REAL_ROBOTS)
@pytest.mark.parametrize("camera", g.CAMERAS)
def test_real_launch_arguments_map_onto_the_graph(repo_root, robot, camera):
    mod = _launch_module(repo_root, "real.launch.py")
    args = defaults(mod.ARGUMENTS) | {"robot": robot, "camera": camera, "checkpoint": "/ckpt", "record": "/tmp/b",
                                      "viz": "true", "rviz": "true", "arm_action": "/my/fjt"}
    built = mod.make_graph(**args)
    assert built == g.real_graph(robot, camera, "/ckpt", record="/tmp/b", viz=True, rviz=True, arm_action="/my/fjt")
    assert [n.name for n in built.nodes] == ["dexsim_policy", "dexsim_recorder", "dexsim_viz"]
    assert [i.package for i in built.includes] == [hardware.ARM_DRIVERS[robot].package,
                                                   hardware.CAMERA_DRIVERS[camera].package]
    cam = built.includes[1]
    assert {dst for _, dst in cam.remappings} == set(g.STEREO_TOPICS.values())   # camera topics -> /stereo/...
    policy = built.node("dexsim_policy")
    assert policy.parameters["arm_action"] == "/my/fjt"
    assert policy.parameters["gripper_action"] == hardware.ARM_DRIVERS[robot].gripper_action
    assert policy.parameters["dry_run"] is True and policy.parameters["use_sim_time"] is False


def test_record_and_data_launch_arguments(repo_root):
    rec = _launch_module(repo_root, "record.launch.py")
    built = rec.make_graph(out="/tmp/x", topics="/joint_states /tf", use_sim_time="false")
    assert built == g.record_graph("/tmp/x", ("/joint_states", "/tf"), use_sim_time=False)
    assert built.node("dexsim_recorder").parameters["topics"] == ["/joint_states", "/tf"]
    data = _launch_module(repo_root, "data.launch.py")
    built = data.make_graph(robot="aubo_i5", task="", output_dir="/d", workers="3", use_sim_time="false")
    assert built == g.data_graph("aubo_i5", output_dir="/d", workers=3)
    assert built.node("dexsim_scaling").parameters["task"] == "open_box"
    assert [n.executable for n in built.nodes] == ["projection_node", "scaling_node"]


def test_policy_node_is_the_same_spec_on_hardware_and_on_the_stand_in():
    vendor = g.real_graph("wx250s", "realsense", "/ckpt", driver="vendor")
    stand_in = g.real_graph("wx250s", "realsense", "/ckpt", driver="sim")
    driver = hardware.ARM_DRIVERS["wx250s"]
    expected = g.policy_node("wx250s", "/ckpt", use_sim_time=False, dry_run=True, arm_action=driver.arm_action,
                             gripper_action=driver.gripper_action, gripper_interface=driver.gripper_interface,
                             driver_joint_names=tuple(hardware.load_robot_config("wx250s").driver_joint_names))
    assert vendor.node("dexsim_policy") == expected
    # The stand-in stamps its data with the simulation's /clock: that is the only difference.
    assert stand_in.node("dexsim_policy") == g.with_parameters(expected, use_sim_time=True)
    # Same node as in simulation but for the clock and the controller names: no remaps, same module.
    sim = g.sim_graph("wx250s", checkpoint="/ckpt").node("dexsim_policy")
    assert (sim.module, sim.remappings) == (expected.module, expected.remappings)
    differing = {k for k in sim.parameters if sim.parameters[k] != expected.parameters[k]}
    # all arguments of policy_node; in simulation the gripper interface is the robot's vendor one too
    assert differing == {"use_sim_time", "dry_run", "arm_action", "gripper_action", "gripper_interface",
                         "driver_joint_names"}
    assert sim.parameters["driver_joint_names"] == [""]     # in simulation: the registry's names
    assert sim.parameters["gripper_interface"] == "" and driver.gripper_interface == "follow_joint_trajectory"
    # The stand-in serves the driver's action names (the Interbotix gripper: a finger trajectory
    # controller); the vendor graph has drivers and the hand-eye TF.
    assert stand_in.node("dexsim_sim").remappings == ((g.ARM_ACTION, driver.arm_action),
                                                       (g.GRIPPER_FINGER_ACTION, driver.gripper_action))
    assert not stand_in.includes and not stand_in.external
    assert vendor.includes[0].remappings == ((driver.joint_states, "/joint_states"),)
    assert [e.executable for e in vendor.external] == ["static_transform_publisher"]


def test_execution_needs_a_hand_eye_calibration(tmp_path):
    with pytest.raises(g.GraphError, match="hand_eye_calibrated: false"):
        g.real_graph("wx250s", checkpoint="/ckpt", dry_run=False)
    cfg = hardware.robot_config("wx250s")
    cam = cfg["dexsim_policy"]["ros__parameters"]["camera"]
    cam.update(hand_eye_calibrated=True, pose_in_base=[0.5, 0.0, 0.6, 0.0, 0.7071068, 0.0, 0.7071068])
    import yaml
    path = tmp_path / "wx250s.yaml"
    path.write_text(yaml.safe_dump(cfg))
    graph = g.real_graph("wx250s", checkpoint="/ckpt", dry_run=False, config=str(path))
    assert graph.node("dexsim_policy").parameters["dry_run"] is False
    tf = graph.external[0].arguments
    assert tf[tf.index("--x") + 1] == "0.5" and tf[tf.index("--child-frame-id") + 1] == "stereo_left_link"


def test_bad_arguments_are_named():
    with pytest.raises(g.GraphError, match="robot: unknown 'wx250s_bimanual'"):
        g.real_graph("wx250s_bimanual")
    with pytest.raises(g.GraphError, match="camera: unknown 'kinect'"):
        g.real_graph(camera="kinect")
    with pytest.raises(g.GraphError, match="driver: unknown 'mock'"):
        g.real_graph(driver="mock")
    with pytest.raises(g.GraphError, match="config: .*does not exist"):
        g.real_graph(config="/nonexistent.yaml")
    with pytest.raises(g.GraphError, match="out: "):
        g.record_graph("")
    with pytest.raises(g.GraphError, match="workers: expected >= 1, got 0"):
        g.data_graph(workers=0)


def test_missing_vendor_drivers_are_named_with_what_to_install(monkeypatch):
    # ament_index finds DexSim's own packages in this venv (the ament prefix), not the vendor drivers.
    monkeypatch.setenv("AMENT_PREFIX_PATH", sys.prefix)
    with pytest.raises(MissingPackageError) as info:
        require_packages(g.real_graph("aubo_i5", "zed"))
    text = str(info.value)
    for package in ("aubo_ros2_driver", "zed_wrapper", "tf2_ros"):
        assert package in text
    assert "github.com/AuboRobot/aubo_ros2_driver" in text
