"""A small typed model of a URDF (links with primitive shapes, joints) and its XML writer."""
from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from xml.sax.saxutils import quoteattr

import numpy as np

from .transforms import matrix_to_rpy

SHAPE_KINDS = ("box", "cylinder", "sphere")
JOINT_KINDS = ("revolute", "prismatic", "fixed", "continuous")
# Links with no mass of their own (tcp and mounting frames) still need an inertial tag: PyBullet
# gives a link without one a mass of 1 kg.
VIRTUAL_LINK_MASS = 1e-3  # kg
VIRTUAL_LINK_INERTIA = 1e-6  # kg m^2
DEFAULT_COLOR = (0.7, 0.7, 0.72, 1.0)


def _fmt(value: float) -> str:
    text = f"{value:.15g}"
    return "0" if text == "-0" else text


def _vec(values) -> str:
    return " ".join(_fmt(float(v)) for v in values)


@dataclass(frozen=True)
class Shape:
    """A primitive: box size (x, y, z) m; cylinder (radius, length) m along local z; sphere (radius,)."""

    kind: str
    size: tuple[float, ...]
    xyz: tuple[float, float, float] = (0.0, 0.0, 0.0)
    rpy: tuple[float, float, float] = (0.0, 0.0, 0.0)

    def __post_init__(self) -> None:
        expected = {"box": 3, "cylinder": 2, "sphere": 1}
        if self.kind not in expected:
            raise ValueError(f"Shape.kind: expected one of {SHAPE_KINDS}, got {self.kind!r}")
        if len(self.size) != expected[self.kind] or any(not (s > 0) for s in self.size):
            raise ValueError(f"Shape.size: {self.kind} needs {expected[self.kind]} positive numbers, got {self.size}")

    def inertia_diagonal(self, mass: float) -> tuple[float, float, float]:
        """Principal moments (kg m^2) of a solid of this shape, about its own centre and axes."""
        if self.kind == "box":
            x, y, z = self.size
            return (mass * (y * y + z * z) / 12.0, mass * (x * x + z * z) / 12.0, mass * (x * x + y * y) / 12.0)
        if self.kind == "cylinder":
            r, h = self.size
            side = mass * (3.0 * r * r + h * h) / 12.0
            return (side, side, mass * r * r / 2.0)
        r = self.size[0]
        return (0.4 * mass * r * r,) * 3

    def geometry_xml(self) -> str:
        if self.kind == "box":
            return f'<box size="{_vec(self.size)}"/>'
        if self.kind == "cylinder":
            return f'<cylinder radius="{_fmt(self.size[0])}" length="{_fmt(self.size[1])}"/>'
        return f'<sphere radius="{_fmt(self.size[0])}"/>'


def segment_shape(start, end, thickness: float) -> Shape:
    """A square-section box (side ``thickness`` m) from point ``start`` to point ``end`` in the link frame."""
    start = np.asarray(start, dtype=float)
    end = np.asarray(end, dtype=float)
    direction = end - start
    length = float(np.linalg.norm(direction))
    z_axis = direction / length
    helper = np.array([1.0, 0.0, 0.0]) if abs(z_axis[0]) < 0.9 else np.array([0.0, 1.0, 0.0])
    x_axis = np.cross(helper, z_axis)
    x_axis /= np.linalg.norm(x_axis)
    rot = np.column_stack([x_axis, np.cross(z_axis, x_axis), z_axis])
    return Shape("box", (thickness, thickness, length), xyz=tuple((start + end) / 2.0), rpy=matrix_to_rpy(rot))


@dataclass(frozen=True)
class LinkDesc:
    """A link; its inertial sits at the centre of its first shape (mass in kg, 0 = virtual frame)."""

    name: str
    mass: float
    shapes: tuple[Shape, ...] = ()
    color: tuple[float, float, float, float] = DEFAULT_COLOR

    def __post_init__(self) -> None:
        if not self.name:
            raise ValueError("LinkDesc.name: must not be empty")
        if not (self.mass >= 0.0 and math.isfinite(self.mass)):
            raise ValueError(f"LinkDesc.mass ({self.name}): must be >= 0 kg, got {self.mass}")

    def to_xml(self) -> str:
        lines = [f"  <link name={quoteattr(self.name)}>"]
        if self.mass > 0.0 and self.shapes:
            main = self.shapes[0]
            ixx, iyy, izz = main.inertia_diagonal(self.mass)
            lines += [
                "    <inertial>",
                f'      <origin xyz="{_vec(main.xyz)}" rpy="{_vec(main.rpy)}"/>',
                f'      <mass value="{_fmt(self.mass)}"/>',
                f'      <inertia ixx="{_fmt(ixx)}" ixy="0" ixz="0" iyy="{_fmt(iyy)}" iyz="0" izz="{_fmt(izz)}"/>',
                "    </inertial>",
            ]
        else:
            i = _fmt(VIRTUAL_LINK_INERTIA)
            lines += [
                "    <inertial>",
                '      <origin xyz="0 0 0" rpy="0 0 0"/>',
                f'      <mass value="{_fmt(max(self.mass, VIRTUAL_LINK_MASS))}"/>',
                f'      <inertia ixx="{i}" ixy="0" ixz="0" iyy="{i}" iyz="0" izz="{i}"/>',
                "    </inertial>",
            ]
        for shape in self.shapes:
            origin = f'<origin xyz="{_vec(shape.xyz)}" rpy="{_vec(shape.rpy)}"/>'
            lines += [
                "    <visual>", f"      {origin}", f"      <geometry>{shape.geometry_xml()}</geometry>",
                f'      <material name="{self.name}_color"><color rgba="{_vec(self.color)}"/></material>',
                "    </visual>",
                "    <collision>", f"      {origin}", f"      <geometry>{shape.geometry_xml()}</geometry>",
                "    </collision>",
            ]
        lines.append("  </link>")
        return "\n".join(lines)


@dataclass(frozen=True)
class JointDesc:
    """A joint; limits in rad (or m for prismatic), velocity rad/s (m/s), effort N m (N)."""

    name: str
    kind: str
    parent: str
    child: str
    xyz: tuple[float, float, float] = (0.0, 0.0, 0.0)
    rpy: tuple[float, float, float] = (0.0, 0.0, 0.0)
    axis: tuple[float, float, float] = (0.0, 0.0, 1.0)
    lower: float = 0.0
    upper: float = 0.0
    velocity: float = 0.0
    effort: float = 0.0

    def __post_init__(self) -> None:
        if self.kind not in JOINT_KINDS:
            raise ValueError(f"JointDesc.kind ({self.name}): expected one of {JOINT_KINDS}, got {self.kind!r}")
        if self.kind in ("revolute", "prismatic"):
            if not self.lower < self.upper:
                raise ValueError(f"JointDesc.lower/upper ({self.name}): need lower < upper, got "
                                 f"{self.lower} .. {self.upper}")
            if not (self.velocity > 0 and self.effort > 0):
                raise ValueError(f"JointDesc.velocity/effort ({self.name}): must be > 0, got "
                                 f"{self.velocity}, {self.effort}")
            if abs(float(np.linalg.norm(self.axis)) - 1.0) > 1e-9:
                raise ValueError(f"JointDesc.axis ({self.name}): must be a unit vector, got {self.axis}")

    def to_xml(self) -> str:
        lines = [
            f"  <joint name={quoteattr(self.name)} type={quoteattr(self.kind)}>",
            f"    <parent link={quoteattr(self.parent)}/>",
            f"    <child link={quoteattr(self.child)}/>",
            f'    <origin xyz="{_vec(self.xyz)}" rpy="{_vec(self.rpy)}"/>',
        ]
        if self.kind != "fixed":
            lines.append(f'    <axis xyz="{_vec(self.axis)}"/>')
        if self.kind in ("revolute", "prismatic"):
            lines.append(f'    <limit lower="{_fmt(self.lower)}" upper="{_fmt(self.upper)}" '
                         f'velocity="{_fmt(self.velocity)}" effort="{_fmt(self.effort)}"/>')
        lines.append("  </joint>")
        return "\n".join(lines)


@dataclass(frozen=True)
class RobotDescription:
    """A tree of links and joints; validated on construction (unique names, one root, known links)."""

    name: str
    links: tuple[LinkDesc, ...]
    joints: tuple[JointDesc, ...]
    comment: str = field(default="", compare=False)

    def __post_init__(self) -> None:
        link_names = [link.name for link in self.links]
        dup = {n for n in link_names if link_names.count(n) > 1}
        if dup:
            raise ValueError(f"RobotDescription.links ({self.name}): duplicate names {sorted(dup)}")
        joint_names = [j.name for j in self.joints]
        dup = {n for n in joint_names if joint_names.count(n) > 1}
        if dup:
            raise ValueError(f"RobotDescription.joints ({self.name}): duplicate names {sorted(dup)}")
        known = set(link_names)
        children: set[str] = set()
        for joint in self.joints:
            for end in (joint.parent, joint.child):
                if end not in known:
                    raise ValueError(f"RobotDescription.joints ({self.name}): joint {joint.name} names "
                                     f"unknown link {end!r}")
            if joint.child in children:
                raise ValueError(f"RobotDescription.joints ({self.name}): link {joint.child} has two parents")
            children.add(joint.child)
        roots = [n for n in link_names if n not in children]
        if len(roots) != 1:
            raise ValueError(f"RobotDescription ({self.name}): expected one root link, got {roots}")

    @property
    def root(self) -> str:
        children = {j.child for j in self.joints}
        return next(link.name for link in self.links if link.name not in children)

    def prefixed(self, prefix: str) -> "RobotDescription":
        """Copy with ``prefix`` in front of every link and joint name."""
        links = tuple(replace(link, name=prefix + link.name) for link in self.links)
        joints = tuple(replace(j, name=prefix + j.name, parent=prefix + j.parent, child=prefix + j.child)
                       for j in self.joints)
        return RobotDescription(prefix + self.name, links, joints, self.comment)

    def to_urdf(self) -> str:
        header = ['<?xml version="1.0"?>',
                  "<!-- Generated by dexsim_sim.robots.description; do not edit by hand. -->"]
        if self.comment:
            header.append(f"<!-- {self.comment} -->")
        body = [f"<robot name={quoteattr(self.name)}>"]
        body += [link.to_xml() for link in self.links]
        body += [joint.to_xml() for joint in self.joints]
        body.append("</robot>")
        return "\n".join(header + body) + "\n"
