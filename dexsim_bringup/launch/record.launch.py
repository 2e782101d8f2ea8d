"""Record DexSim's topics (incl. /tf, /tf_static, camera_info) to a rosbag2 in MCAP storage.

    ros2 launch dexsim_bringup record.launch.py out:=BAG_DIR [topics:="/joint_states /tf ..."]

Runs DexSim's recorder node (dexsim_bringup.nodes.recorder_node), not `ros2 bag record`, so the
bag is the same in full ROS and pip mode (`dexsim up record --out BAG_DIR`); `ros2 bag play`
and `ros2 bag info` read it.
"""
from dexsim_bringup.graph import RECORD_TOPICS, record_graph
from dexsim_bringup.launch_support import Argument, launch_description

ARGUMENTS = (
    Argument("out", "dexsim_bag", "bag directory to create (must not exist)"),
    Argument("topics", " ".join(RECORD_TOPICS), "space-separated topics to record"),
    Argument("use_sim_time", "true", "stamp messages with /clock time (simulation) or wall time", ("true", "false")),
)


def make_graph(out, topics, use_sim_time):
    return record_graph(out, tuple(topics.split()), use_sim_time=use_sim_time == "true")


def generate_launch_description():
    return launch_description(ARGUMENTS, make_graph)
