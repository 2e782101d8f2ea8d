"""Real hardware: the arm's vendor driver and a stereo camera driver (topics remapped onto
DexSim's names), the hand-eye static TF, and the SAME policy node as in simulation.

    ros2 launch dexsim_bringup real.launch.py robot:=wx250s camera:=realsense checkpoint:=RUN_DIR [dry_run:=false]
    ros2 launch dexsim_bringup real.launch.py driver:=sim ...   # the sim node stands in for both drivers

Drivers that are not installed stop the launch with a message naming the package to install.
Pip-mode equivalent: `dexsim up real ...` (dexsim_bringup.graph.real_graph; vendor drivers need full ROS 2).
"""
from dexsim_bringup.graph import CAMERAS, DRIVERS, REAL_ROBOTS, real_graph
from dexsim_bringup.launch_support import Argument, launch_description

ARGUMENTS = (
    Argument("robot", "wx250s", "the real arm", REAL_ROBOTS),
    Argument("camera", "realsense", "the stereo camera", CAMERAS),
    Argument("checkpoint", "", "policy checkpoint directory; empty: drivers only (e.g. for tele-operated recording)"),
    Argument("driver", "vendor", "vendor: the hardware drivers; sim: the sim node stands in for them", DRIVERS),
    Argument("dry_run", "true", "true: the policy publishes the goals it would send on "
             "/dexsim/policy/dry_run_trajectory and sends no action goal", ("true", "false")),
    Argument("arm_action", "", "FollowJointTrajectory action of the arm controller; empty: the robot config's"),
    Argument("gripper_action", "", "gripper action (GripperCommand, or an Interbotix finger FollowJointTrajectory); empty: the robot config's"),
    Argument("record", "", "record the DexSim topics to this MCAP bag directory; empty: no recording"),
    Argument("viz", "false", "start the Foxglove live view (WebSocket on 127.0.0.1:8765)", ("true", "false")),
    Argument("rviz", "false", "start RViz with DexSim's config", ("true", "false")),
    Argument("config", "", "robot config YAML (joint names, limits, controllers, hand-eye); empty: config/<robot>.yaml"),
)


def make_graph(robot, camera, checkpoint, driver, dry_run, arm_action, gripper_action, record, viz, rviz, config):
    return real_graph(robot, camera, checkpoint, driver=driver, dry_run=dry_run == "true", arm_action=arm_action,
                      gripper_action=gripper_action, record=record, viz=viz == "true", rviz=rviz == "true",
                      config=config)


def generate_launch_description():
    return launch_description(ARGUMENTS, make_graph)
