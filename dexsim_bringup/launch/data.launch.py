"""The data engine: the Real2Sim projection node and the Sim2Real scaling node.

    ros2 launch dexsim_bringup data.launch.py robot:=wx250s [task:=grasp] [output_dir:=DIR] [workers:=2]

Pip-mode equivalent: `dexsim up data ...` (dexsim_bringup.graph.data_graph).
"""
from dexsim_bringup.graph import ROBOTS, TASKS, data_graph
from dexsim_bringup.launch_support import Argument, launch_description

ARGUMENTS = (
    Argument("robot", "wx250s", "robot of the projected scenes and generated episodes", ROBOTS),
    Argument("task", "", "task; empty: the robot's default task", ("",) + TASKS),
    Argument("output_dir", "", "default dataset directory of GenerateDataset goals that name none"),
    Argument("workers", "1", "simulation worker processes of the scaling node"),
    Argument("use_sim_time", "false", "use /clock time", ("true", "false")),
)


def make_graph(robot, task, output_dir, workers, use_sim_time):
    return data_graph(robot, task or None, output_dir=output_dir, workers=int(workers),
                      use_sim_time=use_sim_time == "true")


def generate_launch_description():
    return launch_description(ARGUMENTS, make_graph)
