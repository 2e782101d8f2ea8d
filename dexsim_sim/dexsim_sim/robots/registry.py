"""The robots DexSim supports: URDF, joints, end-effector link, gripper and limits (docs/CONTRACTS.md).

End-effector convention (every robot): the ee link's +x is the approach direction, the fingers
close along +-y, the origin is the grasp centre between the finger pads. Gripper openings are
finger gaps in metres; :func:`gripper_joint_positions` turns one into finger joint values.
"""
from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

URDF_DIR = Path(__file__).resolve().parent / "urdf"
BASE_LINK = "base_link"  # every robot's root frame; FK and IK of every arm are expressed in it


class UnknownRobotError(KeyError):
    """A robot name that is not in the registry."""

    def __str__(self) -> str:  # KeyError would repr() the message
        return str(self.args[0]) if self.args else ""


class UnknownArmError(KeyError):
    """An arm name that the robot does not have."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


@dataclass(frozen=True)
class JointLimit:
    """Position limits (rad or m), velocity (rad/s or m/s), effort (N m or N)."""

    lower: float
    upper: float
    velocity: float
    effort: float

    def __post_init__(self) -> None:
        if not self.lower < self.upper:
            raise ValueError(f"JointLimit.lower/upper: need lower < upper, got {self.lower} .. {self.upper}")
        if not self.velocity > 0:
            raise ValueError(f"JointLimit.velocity: must be > 0, got {self.velocity}")
        if not self.effort > 0:
            raise ValueError(f"JointLimit.effort: must be > 0, got {self.effort}")


@dataclass(frozen=True)
class ArmSpec:
    """One arm of a robot; ``name`` is "" for a single-arm robot, "left"/"right" for the bimanual one."""

    name: str
    joints: tuple[str, ...]
    ee_link: str
    gripper_joints: tuple[str, ...]
    controller_prefix: str     # "" or "/left", "/right": prefixes /arm_controller, /gripper_controller


@dataclass(frozen=True)
class RobotSpec:
    name: str
    urdf: Path
    arm_joints: tuple[str, ...]
    ee_link: str
    gripper_joints: tuple[str, ...]
    gripper_open: float        # finger gap, m
    gripper_closed: float      # finger gap, m
    limits: dict[str, JointLimit]
    home: tuple[float, ...]
    arms: tuple[ArmSpec, ...]

    def __post_init__(self) -> None:
        if len(self.home) != len(self.arm_joints):
            raise ValueError(f"RobotSpec.home ({self.name}): expected {len(self.arm_joints)} values, "
                             f"got {len(self.home)}")
        missing = [j for j in self.arm_joints + self.gripper_joints if j not in self.limits]
        if missing:
            raise ValueError(f"RobotSpec.limits ({self.name}): no limits for joints {missing}")
        for joint, value in zip(self.arm_joints, self.home):
            lim = self.limits[joint]
            if not lim.lower <= value <= lim.upper:
                raise ValueError(f"RobotSpec.home ({self.name}): {joint}={value} outside "
                                 f"[{lim.lower}, {lim.upper}]")
        if not 0.0 <= self.gripper_closed < self.gripper_open:
            raise ValueError(f"RobotSpec.gripper_open/closed ({self.name}): need 0 <= closed < open, got "
                             f"{self.gripper_closed}, {self.gripper_open}")

    def arm(self, name: str = "") -> ArmSpec:
        """The arm called ``name`` ("" picks the only/first arm)."""
        if name == "" and self.arms:
            return self.arms[0]
        for arm in self.arms:
            if arm.name == name:
                return arm
        raise UnknownArmError(f"arm {name!r} not on robot {self.name}; arms are {[a.name for a in self.arms]}")

    def home_of(self, arm: ArmSpec) -> tuple[float, ...]:
        """The home values of one arm's joints."""
        index = {j: i for i, j in enumerate(self.arm_joints)}
        return tuple(self.home[index[j]] for j in arm.joints)

    @property
    def dof(self) -> int:
        return len(self.arm_joints)


def _read_limits(urdf: Path) -> dict[str, JointLimit]:
    limits = {}
    for el in ET.parse(str(urdf)).getroot().findall("joint"):
        limit = el.find("limit")
        if el.get("type") in ("revolute", "prismatic") and limit is not None:
            limits[el.get("name")] = JointLimit(float(limit.get("lower")), float(limit.get("upper")),
                                                float(limit.get("velocity")), float(limit.get("effort")))
    return limits


_INDUSTRIAL_GRIPPER = ("left_finger_joint", "right_finger_joint")
_INDUSTRIAL_OPEN, _INDUSTRIAL_CLOSED = 0.085, 0.0     # m, parallel gripper stroke (robots/gripper.py)
_WX_ARM = ("waist", "shoulder", "elbow", "forearm_roll", "wrist_angle", "wrist_rotate")
_WX_GRIPPER = ("left_finger", "right_finger")
_WX_OPEN, _WX_CLOSED = 0.074, 0.030                    # m, finger gap range of the wx250s gripper

# Home poses: gripper pointing straight down above the table in front of the robot, checked
# collision-free (self and ground) by the tests.
_SR3_HOME = (0.0, 0.0, -1.5708, 0.0, -1.5708, 0.0)
_AUBO_HOME = (0.0, 0.0, 1.5708, 0.0, 1.5708, 0.0)
_WX_HOME = (0.0, -0.5, 0.5, 0.0, 1.5708, 0.0)


def _single(name: str, arm_joints: tuple[str, ...], ee_link: str, gripper_joints: tuple[str, ...],
            gripper_open: float, gripper_closed: float, home: tuple[float, ...]) -> RobotSpec:
    urdf = URDF_DIR / f"{name}.urdf"
    arm = ArmSpec("", arm_joints, ee_link, gripper_joints, "")
    return RobotSpec(name, urdf, arm_joints, ee_link, gripper_joints, gripper_open, gripper_closed,
                     _read_limits(urdf), home, (arm,))


def _bimanual() -> RobotSpec:
    name = "wx250s_bimanual"
    urdf = URDF_DIR / f"{name}.urdf"
    arms = tuple(ArmSpec(side, tuple(f"{side}_{j}" for j in _WX_ARM), f"{side}_ee_gripper_link",
                         tuple(f"{side}_{j}" for j in _WX_GRIPPER), f"/{side}") for side in ("left", "right"))
    return RobotSpec(name, urdf, arms[0].joints + arms[1].joints, arms[0].ee_link,
                     arms[0].gripper_joints + arms[1].gripper_joints, _WX_OPEN, _WX_CLOSED, _read_limits(urdf),
                     _WX_HOME + _WX_HOME, arms)


@lru_cache(maxsize=1)
def _registry() -> dict[str, RobotSpec]:
    specs = [
        _single("sr3", tuple(f"joint{i}" for i in range(1, 7)), "tcp_link", _INDUSTRIAL_GRIPPER,
                _INDUSTRIAL_OPEN, _INDUSTRIAL_CLOSED, _SR3_HOME),
        _single("aubo_i5", ("shoulder_joint", "upperArm_joint", "foreArm_joint", "wrist1_joint", "wrist2_joint",
                            "wrist3_joint"), "tcp_link", _INDUSTRIAL_GRIPPER, _INDUSTRIAL_OPEN,
                _INDUSTRIAL_CLOSED, _AUBO_HOME),
        _single("wx250s", _WX_ARM, "ee_gripper_link", _WX_GRIPPER, _WX_OPEN, _WX_CLOSED, _WX_HOME),
        _bimanual(),
    ]
    return {spec.name: spec for spec in specs}


def get_robot(name: str) -> RobotSpec:
    """The spec of robot ``name``; raises :class:`UnknownRobotError` naming the valid names."""
    registry = _registry()
    if name not in registry:
        raise UnknownRobotError(f"unknown robot {name!r}; valid names: {sorted(registry)}")
    return registry[name]


def list_robots() -> list[RobotSpec]:
    return list(_registry().values())


def gripper_joint_positions(robot: RobotSpec, opening: float, arm: str = "") -> dict[str, float]:
    """Finger joint values (m) that give a finger gap of ``opening`` m (clipped to the gripper's range).

    Each finger moves half the gap; a finger whose joint range is negative (wx250s right finger)
    gets the negative value.
    """
    spec = robot.arm(arm)
    gap = min(max(float(opening), robot.gripper_closed), robot.gripper_open)
    out = {}
    for joint in spec.gripper_joints:
        lim = robot.limits[joint]
        sign = 1.0 if lim.upper > 0.0 else -1.0
        out[joint] = min(max(sign * gap / 2.0, lim.lower), lim.upper)
    return out
