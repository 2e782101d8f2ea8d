"""Simulated DexSim: the sim node (PyBullet arm + stereo camera behind ros2_control-style
actions), optionally the policy node, a bag recorder and RViz.

    ros2 launch dexsim_bringup sim.launch.py robot:=wx250s [task:=grasp] [checkpoint:=RUN_DIR] [rviz:=true] [viz:=true] [record:=BAG_DIR]

Pip-mode equivalent: `dexsim up sim --robot wx250s ...` (same graph, dexsim_bringup.graph.sim_graph).
"""
from dexsim_bringup.graph import ROBOTS, TASKS, sim_graph
from dexsim_bringup.launch_support import Argument, launch_description

ARGUMENTS = (
    Argument("robot", "wx250s", "robot to simulate", ROBOTS),
    Argument("task", "", "task; empty: the robot's default task", ("",) + TASKS),
    Argument("checkpoint", "", "policy checkpoint directory; empty: no policy node"),
    Argument("rviz", "false", "start RViz with DexSim's config", ("true", "false")),
    Argument("record", "", "record the DexSim topics to this MCAP bag directory; empty: no recording"),
    Argument("seed", "0", "episode seed of the simulation"),
    Argument("real_time_factor", "1.0", "simulation speed relative to wall time; 0: as fast as possible"),
    Argument("viz", "false", "start the Foxglove live view (WebSocket on 127.0.0.1:8765)", ("true", "false")),
    Argument("scene_file", "", "scene file to simulate (e.g. a projected one); empty: the task's scene"),
    Argument("dr_spec", "", "DR spec applied at every reset; empty: none"),
)


def make_graph(robot, task, checkpoint, rviz, record, seed, real_time_factor, viz, scene_file, dr_spec):
    return sim_graph(robot, task or None, checkpoint=checkpoint, record=record, rviz=rviz == "true",
                     seed=int(seed), real_time_factor=float(real_time_factor), viz=viz == "true",
                     scene_file=scene_file, dr_spec=dr_spec)


def generate_launch_description():
    return launch_description(ARGUMENTS, make_graph)
