"""The scene file model (docs/CONTRACTS.md "Scene file"): typed dataclasses, YAML/JSON load and save.

Every validation error is a :class:`SceneError` whose message starts with the path of the bad field,
e.g. ``objects[2].pose: expected 7 numbers, got 6``. Poses are world-frame 7-vectors
``(x, y, z, qx, qy, qz, qw)``; an object's pose z is the height of its base (bottom) in the world.
"""
from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

import yaml

from ..documents import load_document
from ..robots.registry import UnknownRobotError, get_robot

IDENTITY_POSE = (0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 1.0)
QUAT_NORM_TOLERANCE = 1e-3       # |q| may differ from 1 by this much (then it is normalised)
ROLES = ("target", "distractor", "container", "region")
SCENE_SUFFIXES = (".yaml", ".yml", ".json")


class SceneError(ValueError):
    """A scene file or dict is malformed; the message names the field path and the bad value."""


def _numbers(path: str, value: Any, count: int | None = None) -> tuple[float, ...]:
    if not isinstance(value, (list, tuple)):
        raise SceneError(f"{path}: expected a list of numbers, got {value!r}")
    if count is not None and len(value) != count:
        raise SceneError(f"{path}: expected {count} numbers, got {len(value)}")
    out = []
    for i, v in enumerate(value):
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
            raise SceneError(f"{path}[{i}]: expected a finite number, got {v!r}")
        out.append(float(v))
    return tuple(out)


MAX_OBJECTS = 64                 # objects in one scene: a table top, not a warehouse
TABLE_MARGIN_M = 0.5             # an object's base may lie this far outside the table footprint...
MAX_HEIGHT_ABOVE_TABLE_M = 1.0   # ...and at most this far above (or below) the table top


def _check_on_table(path: str, pose: tuple[float, ...], table: "TableConfig") -> None:
    """Refuse object positions that are finite but absurd (kilometres off the table)."""
    half_x, half_y = table.size[0] / 2.0 + TABLE_MARGIN_M, table.size[1] / 2.0 + TABLE_MARGIN_M
    x, y, z = pose[:3]
    if abs(x) > half_x or abs(y) > half_y or abs(z - table.height) > MAX_HEIGHT_ABOVE_TABLE_M:
        raise SceneError(f"{path}: position {[x, y, z]} is off the table (|x| <= {half_x:g}, |y| <= {half_y:g}, "
                         f"|z - {table.height:g}| <= {MAX_HEIGHT_ABOVE_TABLE_M:g} m)")


def _pose(path: str, value: Any) -> tuple[float, ...]:
    pose = _numbers(path, value, 7)
    norm = math.sqrt(sum(q * q for q in pose[3:]))
    if abs(norm - 1.0) > QUAT_NORM_TOLERANCE:
        raise SceneError(f"{path}: quaternion (qx, qy, qz, qw) must have unit norm, got norm {norm:.4f}")
    return pose[:3] + tuple(q / norm for q in pose[3:])


def _color(path: str, value: Any) -> tuple[float, ...]:
    rgba = _numbers(path, value, 4)
    if any(c < 0.0 or c > 1.0 for c in rgba):
        raise SceneError(f"{path}: colour components must lie in [0, 1], got {list(rgba)}")
    return rgba


def _positive(path: str, value: Any, allow_zero: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise SceneError(f"{path}: expected a finite number, got {value!r}")
    if value < 0 or (value == 0 and not allow_zero):
        raise SceneError(f"{path}: must be {'non-negative' if allow_zero else 'positive'}, got {value!r}")
    return float(value)


def _check_keys(path: str, data: Any, cls: type) -> dict:
    if not isinstance(data, dict):
        raise SceneError(f"{path or 'scene'}: expected a mapping, got {data!r}")
    known = {f.name for f in fields(cls)}
    unknown = sorted(set(data) - known)
    if unknown:
        prefix = f"{path}." if path else ""
        raise SceneError(f"{prefix}{unknown[0]}: unknown field (valid: {sorted(known)})")
    return data


@dataclass
class RobotConfig:
    name: str = "sr3"
    base_pose: tuple[float, ...] = IDENTITY_POSE

    @classmethod
    def from_dict(cls, data: Any, path: str = "robot") -> "RobotConfig":
        data = _check_keys(path, data, cls)
        name = data.get("name", cls.name)
        if not isinstance(name, str) or not name:
            raise SceneError(f"{path}.name: expected a robot name, got {name!r}")
        try:
            get_robot(name)
        except UnknownRobotError as exc:
            raise SceneError(f"{path}.name: {exc}") from exc
        return cls(name=name, base_pose=_pose(f"{path}.base_pose", data.get("base_pose", IDENTITY_POSE)))


@dataclass
class TableConfig:
    """A box table whose top face is at z = ``height``, centred on the world origin in x, y."""

    size: tuple[float, ...] = (1.2, 0.8, 0.05)   # x, y, thickness (m)
    height: float = 0.0                            # world z of the table top (m)
    texture: str | None = None
    color: tuple[float, ...] = (0.8, 0.8, 0.8, 1.0)

    @classmethod
    def from_dict(cls, data: Any, path: str = "table") -> "TableConfig":
        data = _check_keys(path, data, cls)
        size = _numbers(f"{path}.size", data.get("size", cls.size), 3)
        for i, s in enumerate(size):
            _positive(f"{path}.size[{i}]", s)
        height = data.get("height", cls.height)
        if isinstance(height, bool) or not isinstance(height, (int, float)) or not math.isfinite(height):
            raise SceneError(f"{path}.height: expected a finite number, got {height!r}")
        return cls(size=size, height=float(height), texture=_texture(f"{path}.texture", data.get("texture")),
                   color=_color(f"{path}.color", data.get("color", cls.color)))


@dataclass
class BackgroundConfig:
    texture: str | None = None
    color: tuple[float, ...] = (0.5, 0.5, 0.5, 1.0)

    @classmethod
    def from_dict(cls, data: Any, path: str = "background") -> "BackgroundConfig":
        data = _check_keys(path, data, cls)
        return cls(texture=_texture(f"{path}.texture", data.get("texture")),
                   color=_color(f"{path}.color", data.get("color", cls.color)))


@dataclass
class LightConfig:
    position: tuple[float, ...] = (0.5, 0.5, 2.0)   # world (m)
    color: tuple[float, ...] = (1.0, 1.0, 1.0)
    intensity: float = 1.0

    @classmethod
    def from_dict(cls, data: Any, path: str) -> "LightConfig":
        data = _check_keys(path, data, cls)
        color = _numbers(f"{path}.color", data.get("color", cls.color), 3)
        if any(c < 0.0 or c > 1.0 for c in color):
            raise SceneError(f"{path}.color: components must lie in [0, 1], got {list(color)}")
        return cls(position=_numbers(f"{path}.position", data.get("position", cls.position), 3), color=color,
                   intensity=_positive(f"{path}.intensity", data.get("intensity", cls.intensity), allow_zero=True))


@dataclass
class StereoConfig:
    """Stereo rig placement: ``position`` + ``look_at`` or a 7-vector ``pose`` of ``stereo_left_link``."""

    position: tuple[float, ...] | None = (0.9, 0.0, 0.6)
    look_at: tuple[float, ...] | None = (0.35, 0.0, 0.0)
    pose: tuple[float, ...] | None = None
    baseline: float = 0.05      # m
    width: int = 640
    height: int = 512
    hfov_deg: float = 75.0

    @classmethod
    def from_dict(cls, data: Any, path: str = "cameras.stereo") -> "StereoConfig":
        data = _check_keys(path, data, cls)
        pose = data.get("pose")
        if pose is not None:
            if data.get("position") is not None or data.get("look_at") is not None:
                raise SceneError(f"{path}: give either pose or position + look_at, not both")
            pose = _pose(f"{path}.pose", pose)
            position = look_at = None
        else:
            position = _numbers(f"{path}.position", data.get("position", cls.position), 3)
            look_at = _numbers(f"{path}.look_at", data.get("look_at", cls.look_at), 3)
            if math.dist(position, look_at) < 1e-6:
                raise SceneError(f"{path}.look_at: must differ from position, got {list(look_at)}")
        size = {}
        for key in ("width", "height"):
            v = data.get(key, getattr(cls, key))
            if isinstance(v, bool) or not isinstance(v, int) or v <= 0:
                raise SceneError(f"{path}.{key}: expected a positive integer (pixels), got {v!r}")
            size[key] = v
        hfov = _positive(f"{path}.hfov_deg", data.get("hfov_deg", cls.hfov_deg))
        if hfov >= 180.0:
            raise SceneError(f"{path}.hfov_deg: must be below 180, got {hfov}")
        return cls(position=position, look_at=look_at, pose=pose,
                   baseline=_positive(f"{path}.baseline", data.get("baseline", cls.baseline)),
                   hfov_deg=hfov, **size)


@dataclass
class ObjectConfig:
    name: str
    category: str
    asset: str
    pose: tuple[float, ...] = IDENTITY_POSE
    scale: tuple[float, ...] = (1.0, 1.0, 1.0)
    color: tuple[float, ...] | None = None      # None: the asset's default colour
    texture: str | None = None
    mass: float | None = None                   # kg; None: the asset's default
    friction: float | None = None               # lateral friction; None: the asset's default
    role: str | None = None

    @classmethod
    def from_dict(cls, data: Any, path: str) -> "ObjectConfig":
        from .assets import default_library  # local: assets imports nothing from here at module load

        data = _check_keys(path, data, cls)
        for key in ("name", "category", "asset"):
            if not isinstance(data.get(key), str) or not data[key]:
                raise SceneError(f"{path}.{key}: expected a non-empty string, got {data.get(key)!r}")
        library = default_library()
        if data["category"] not in library.categories():
            raise SceneError(f"{path}.category: unknown category {data['category']!r} "
                             f"(valid: {library.categories()})")
        if data["asset"] not in library.ids():
            raise SceneError(f"{path}.asset: unknown asset {data['asset']!r} (valid: {library.ids()})")
        asset = library.get(data["asset"])
        if asset.category != data["category"]:
            raise SceneError(f"{path}.asset: asset {asset.id!r} is a {asset.category!r}, "
                             f"not a {data['category']!r}")
        scale = _numbers(f"{path}.scale", data.get("scale", cls.scale), 3)
        for i, s in enumerate(scale):
            _positive(f"{path}.scale[{i}]", s)
        color = data.get("color")
        mass = data.get("mass")
        friction = data.get("friction")
        role = data.get("role")
        if role is not None and role not in ROLES:
            raise SceneError(f"{path}.role: unknown role {role!r} (valid: {list(ROLES)})")
        return cls(name=data["name"], category=data["category"], asset=data["asset"],
                   pose=_pose(f"{path}.pose", data.get("pose", IDENTITY_POSE)), scale=scale,
                   color=None if color is None else _color(f"{path}.color", color),
                   texture=_texture(f"{path}.texture", data.get("texture")),
                   mass=None if mass is None else _positive(f"{path}.mass", mass),
                   friction=None if friction is None else _positive(f"{path}.friction", friction, allow_zero=True),
                   role=role)


def _texture(path: str, value: Any) -> str | None:
    if value is None:
        return None
    from .assets import texture_names

    if not isinstance(value, str) or value not in texture_names():
        raise SceneError(f"{path}: unknown texture {value!r} (valid: {texture_names()})")
    return value


@dataclass
class Scene:
    name: str
    robot: RobotConfig = field(default_factory=RobotConfig)
    table: TableConfig = field(default_factory=TableConfig)
    background: BackgroundConfig = field(default_factory=BackgroundConfig)
    lights: list[LightConfig] = field(default_factory=lambda: [LightConfig()])
    cameras: dict[str, StereoConfig] = field(default_factory=lambda: {"stereo": StereoConfig()})
    objects: list[ObjectConfig] = field(default_factory=list)

    @classmethod
    def from_dict(cls, data: Any) -> "Scene":
        data = _check_keys("", data, cls)
        name = data.get("name")
        if not isinstance(name, str) or not name:
            raise SceneError(f"name: expected a non-empty string, got {name!r}")
        lights = data.get("lights", [asdict(LightConfig())])
        if not isinstance(lights, list):
            raise SceneError(f"lights: expected a list, got {lights!r}")
        cameras = data.get("cameras", {"stereo": {}})
        if not isinstance(cameras, dict) or set(cameras) - {"stereo"}:
            raise SceneError(f"cameras: expected a mapping with the key 'stereo', got {cameras!r}")
        objects = data.get("objects", [])
        if not isinstance(objects, list):
            raise SceneError(f"objects: expected a list, got {objects!r}")
        if len(objects) > MAX_OBJECTS:
            raise SceneError(f"objects: {len(objects)} objects; a scene holds at most {MAX_OBJECTS}")
        parsed = [ObjectConfig.from_dict(o, f"objects[{i}]") for i, o in enumerate(objects)]
        table = TableConfig.from_dict(data.get("table", {}))
        for i, obj in enumerate(parsed):
            _check_on_table(f"objects[{i}].pose", obj.pose, table)
        seen: dict[str, int] = {}
        for i, obj in enumerate(parsed):
            if obj.name in seen:
                raise SceneError(f"objects[{i}].name: duplicate name {obj.name!r} (also objects[{seen[obj.name]}])")
            seen[obj.name] = i
        return cls(name=name, robot=RobotConfig.from_dict(data.get("robot", {})),
                   table=table,
                   background=BackgroundConfig.from_dict(data.get("background", {})),
                   lights=[LightConfig.from_dict(l, f"lights[{i}]") for i, l in enumerate(lights)],
                   cameras={k: StereoConfig.from_dict(v, f"cameras.{k}") for k, v in cameras.items()},
                   objects=parsed)

    def to_dict(self) -> dict:
        """Plain dict (lists, not tuples) that :meth:`from_dict` reads back to an equal scene."""
        return _plain(asdict(self))

    def save(self, path: str | Path) -> Path:
        path = Path(path)
        if path.suffix not in SCENE_SUFFIXES:
            raise SceneError(f"path: scene files end in {SCENE_SUFFIXES}, got {str(path)!r}")
        text = json.dumps(self.to_dict(), indent=2) if path.suffix == ".json" else \
            yaml.safe_dump(self.to_dict(), sort_keys=False)
        path.write_text(text)
        return path

    def object(self, name: str) -> ObjectConfig:
        for obj in self.objects:
            if obj.name == name:
                return obj
        raise SceneError(f"objects: no object named {name!r} (have {[o.name for o in self.objects]})")


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def load_scene(path: str | Path) -> Scene:
    """Read and validate a YAML or JSON scene file."""
    path = Path(path)
    if not path.is_file():
        raise SceneError(f"path: scene file not found: {str(path)!r}")
    if path.suffix not in SCENE_SUFFIXES:
        raise SceneError(f"path: scene files end in {SCENE_SUFFIXES}, got {str(path)!r}")
    return load_document(path, Scene.from_dict, SceneError, what="scene")
