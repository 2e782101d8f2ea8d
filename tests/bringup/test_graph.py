"""One graph description: the launch files build exactly the graphs pip mode runs."""
from __future__ import annotations

import importlib.util
import inspect

import pytest

from dexsim_bringup import graph as g
from dexsim_bringup.launch_support import defaults
from dexsim_bringup.launcher import node_command, write_params


def _launch_module(repo_root, name):
    path = repo_root / "dexsim_bringup" / "launch" / name
    spec = importlib.util.spec_from_file_location(name.replace(".", "_"), path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)  # imports no `launch`: that happens in generate_launch_description
    return mod


def test_sim_launch_defaults_equal_pip_mode_graph(repo_root):
    mod = _launch_module(repo_root, "sim.launch.py")
    assert mod.make_graph(**defaults(mod.ARGUMENTS)) == g.sim_graph()


@pytest.mark.parametrize("robot", g.ROBOTS)
def test_sim_launch_arguments_map_onto_the_graph(repo_root, robot):
    mod = _launch_module(repo_root, "sim.launch.py")
    args = defaults(mod.ARGUMENTS) | {"robot": robot, "checkpoint": "/tmp/run", "record": "/tmp/bag", "seed": "3"}
    built = mod.make_graph(**args)
    assert built == g.sim_graph(robot, checkpoint="/tmp/run", record="/tmp/bag", seed=3)
    assert [n.name for n in built.nodes] == ["dexsim_sim", "dexsim_policy", "dexsim_recorder"]
    assert built.node("dexsim_sim").parameters["task"] == g.DEFAULT_TASK[robot]


def test_every_launch_argument_is_described_and_used(repo_root):
    mod = _launch_module(repo_root, "sim.launch.py")
    names = [a.name for a in mod.ARGUMENTS]
    assert names == list(inspect.signature(mod.make_graph).parameters)
    for a in mod.ARGUMENTS:
        assert a.description and (a.choices is None or a.default in a.choices)


def test_bad_arguments_are_named():
    with pytest.raises(g.GraphError, match="robot: unknown 'ur5'"):
        g.sim_graph("ur5")
    with pytest.raises(g.GraphError, match="task: unknown 'fold'"):
        g.sim_graph("sr3", "fold")


def test_pip_mode_command_carries_parameters_and_remaps(tmp_path):
    spec = g.policy_node("sr3", "/ckpt", use_sim_time=True,
                         remappings=(("/stereo/left/image_rect", "/camera/left/image_rect_color"),))
    params = write_params(spec, tmp_path)
    cmd = node_command(spec, params)
    assert cmd[1:3] == ["-m", "dexsim_policy.nodes.policy_node"]
    assert "__node:=dexsim_policy" in cmd and "/stereo/left/image_rect:=/camera/left/image_rect_color" in cmd
    import yaml
    assert yaml.safe_load(params.read_text()) == {"dexsim_policy": {"ros__parameters": spec.parameters}}


def _schemas():
    from dexsim_bringup.nodes import recorder_node, viz_node
    from dexsim_policy.nodes import policy_node
    from dexsim_sim.nodes import projection_node, scaling_node, sim_node

    return {m.PARAMS.node: m.PARAMS for m in (sim_node, policy_node, projection_node, scaling_node, recorder_node,
                                              viz_node)}


def _every_graph():
    yield g.sim_graph("wx250s", checkpoint="/ckpt", record="/tmp/bag", viz=True, scene_file="/s.yaml", dr_spec="grasp")
    yield g.sim_graph("wx250s_bimanual", checkpoint="/ckpt")
    for robot in g.REAL_ROBOTS:
        for driver in g.DRIVERS:
            yield g.real_graph(robot, "realsense", "/ckpt", driver=driver, record="/tmp/bag", viz=True)
    yield g.record_graph("/tmp/bag")
    yield g.data_graph("aubo_i5", output_dir="/data", workers=3)


def test_every_node_the_graphs_start_declares_the_parameters_they_pass():
    """graph.py is checked against each node's one parameter schema: names, types and bounds."""
    from dexsim_sim.ros.params import ParamError

    schemas = _schemas()
    seen = set()
    for graph in _every_graph():
        for node in graph.nodes:
            schema = schemas[node.executable]
            seen.add(node.executable)
            checked = schema.check(node.parameters, partial=True)        # raises on an unknown or bad value
            assert set(checked) | {"use_sim_time"} >= set(node.parameters)
    assert seen == set(schemas)
    with pytest.raises(ParamError, match="unknown parameter"):
        schemas["scaling_node"].check({"ouput_dir": "/x"})
    with pytest.raises(ParamError, match="image_width: 5 outside"):
        schemas["sim_node"].check({"image_width": 5})
    with pytest.raises(ParamError, match="rate_hz: expected > 0"):
        schemas["policy_node"].check({"rate_hz": 0.0})
    assert "| `seed` | int | `0` |" in schemas["sim_node"].markdown()


def test_the_parameter_doc_is_current():
    from dexsim_bringup.params_doc import DOC, render

    assert DOC.read_text(encoding="utf-8") == render(), "run: python -m dexsim_bringup.params_doc"
