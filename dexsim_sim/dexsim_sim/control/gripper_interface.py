"""How a robot's gripper is commanded on ROS, per vendor: the per-robot gripper adapter.

Two interfaces exist in the drivers DexSim targets:

- ``gripper_command``: a ``control_msgs/GripperCommand`` action on the finger gap in metres
  (ros2_control's gripper_action_controller; what a Robotiq or other add-on gripper driver serves
  on the AUBO i5 and the Rokae SR3, whose arm drivers ship no gripper controller).
- ``follow_joint_trajectory``: a ``control_msgs/FollowJointTrajectory`` action on ONE finger joint
  in that joint's units. The Interbotix arms do this: ``interbotix_xsarm_ros_control``'s
  ``config/controllers/wx250s_controllers.yaml`` (Interbotix/interbotix_ros_manipulators, humble
  a4b7e51 = jazzy/rolling 04a3506) declares ``gripper_controller`` as a
  ``joint_trajectory_controller/JointTrajectoryController`` on ``joints: [left_finger]``, a
  prismatic joint in metres (``wx250s.urdf.xacro``: 0.015 .. 0.037 m, ``right_finger`` mimics it
  with multiplier -1), so ``left_finger`` is half the gap (``xs_hardware_interface.cpp``:
  ``gripper_msg.cmd = joint_position_commands.back() * 2``, finger position -> finger distance).

:class:`GripperInterface` converts between the policy's finger gap and what the driver takes;
the policy node sends through it and the sim node serves both, so ``driver:=sim`` exercises the
interface the real driver has.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, replace

GRIPPER_COMMAND = "gripper_command"
FOLLOW_JOINT_TRAJECTORY = "follow_joint_trajectory"
KINDS = (GRIPPER_COMMAND, FOLLOW_JOINT_TRAJECTORY)
GRIPPER_COMMAND_ACTION = "/gripper_controller/gripper_cmd"
GRIPPER_TRAJECTORY_ACTION = "/gripper_controller/follow_joint_trajectory"
DEFAULT_MOVE_TIME_S = 0.5        # time_from_start of a finger trajectory's single point


class GripperInterfaceError(ValueError):
    """A gripper interface that cannot be built, or a command it cannot express."""


@dataclass(frozen=True)
class GripperInterface:
    """One arm's gripper on ROS: ``kind`` (see the module doc), the action name relative to the
    arm's controller prefix, and for ``follow_joint_trajectory`` the finger ``joint`` with
    ``joint = offset + scale * gap`` (gap in m) and the point's ``move_time_s``."""

    kind: str = GRIPPER_COMMAND
    action: str = GRIPPER_COMMAND_ACTION
    joint: str = ""
    scale: float = 1.0
    offset: float = 0.0
    move_time_s: float = DEFAULT_MOVE_TIME_S
    source: str = ""                  # where the mapping was checked (vendor file)

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise GripperInterfaceError(f"gripper interface: kind {self.kind!r} is not one of {list(KINDS)}")
        if not self.action.startswith("/"):
            raise GripperInterfaceError(f"gripper interface: action {self.action!r} must start with '/'")
        if self.kind == FOLLOW_JOINT_TRAJECTORY:
            if not self.joint:
                raise GripperInterfaceError("gripper interface: follow_joint_trajectory needs the finger joint")
            if not (math.isfinite(self.scale) and self.scale != 0.0 and math.isfinite(self.offset)):
                raise GripperInterfaceError(f"gripper interface: scale {self.scale} must be finite and non-zero, "
                                            f"offset {self.offset} finite")
            if not (math.isfinite(self.move_time_s) and self.move_time_s > 0.0):
                raise GripperInterfaceError(f"gripper interface: move_time_s must be > 0, got {self.move_time_s}")

    def for_arm(self, finger_joints) -> "GripperInterface":
        """This interface on one arm of a robot: the finger joint named as the arm names it (a
        bimanual arm's ``left_left_finger`` for the vendor's ``left_finger``)."""
        if self.kind != FOLLOW_JOINT_TRAJECTORY:
            return self
        matches = [j for j in finger_joints if j == self.joint or j.endswith("_" + self.joint)]
        if not matches:
            raise GripperInterfaceError(f"gripper interface: no finger joint named like {self.joint!r} in "
                                        f"{list(finger_joints)}")
        return replace(self, joint=matches[0])

    def joint_position(self, gap: float) -> float:
        """The finger joint's target (its units) for a finger gap of ``gap`` m."""
        if not math.isfinite(gap):
            raise GripperInterfaceError(f"gripper: gap must be finite, got {gap}")
        return self.offset + self.scale * float(gap)

    def gap(self, joint_position: float) -> float:
        """The finger gap (m) a finger joint value means."""
        if not math.isfinite(joint_position):
            raise GripperInterfaceError(f"gripper: {self.joint} position must be finite, got {joint_position}")
        return (float(joint_position) - self.offset) / self.scale


INTERBOTIX_FINGER = GripperInterface(
    FOLLOW_JOINT_TRAJECTORY, GRIPPER_TRAJECTORY_ACTION, joint="left_finger", scale=0.5,
    source="Interbotix/interbotix_ros_manipulators: interbotix_ros_xsarms/interbotix_xsarm_ros_control/"
           "config/controllers/wx250s_controllers.yaml (gripper_controller: JointTrajectoryController, "
           "joints [left_finger], position)")

# robot -> its gripper's ROS interface (robots not listed: GripperCommand on the gap)
VENDOR_GRIPPERS: dict[str, GripperInterface] = {
    "wx250s": INTERBOTIX_FINGER,
    "wx250s_bimanual": INTERBOTIX_FINGER,
}


def gripper_interface(robot: str, kind: str = "") -> GripperInterface:
    """The gripper interface of ``robot`` as its vendor driver serves it; ``kind`` forces one
    (``gripper_command`` gives the plain GripperCommand interface on the gap for any robot)."""
    vendor = VENDOR_GRIPPERS.get(robot, GripperInterface())
    if not kind or kind == vendor.kind:
        return vendor
    if kind == GRIPPER_COMMAND:
        return GripperInterface()
    raise GripperInterfaceError(f"gripper_interface: {robot!r} has no {kind!r} gripper mapping "
                                f"(it has {vendor.kind!r})")
