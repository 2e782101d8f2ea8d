"""Robot descriptions (URDFs), the registry and pure-numpy kinematics."""
from .registry import (ArmSpec, JointLimit, RobotSpec, UnknownArmError, UnknownRobotError, get_robot,
                       gripper_joint_positions, list_robots)

__all__ = ["ArmSpec", "JointLimit", "RobotSpec", "UnknownArmError", "UnknownRobotError", "get_robot",
           "gripper_joint_positions", "list_robots"]
