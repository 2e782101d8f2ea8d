"""Domain randomization (DR): a typed, validated spec, a seeded sampler and a small apply protocol.

Factors are of two kinds (paper section 4.3):
- AI (action-invariant): change what the cameras see, never what the robot must do
  (light, textures, distractors, camera pose and focal length).
- SA (semantic-aware): change the task geometry/physics, so the skill must adapt
  (object yaw / x-y shift, per-axis scale, mass, friction).

Every factor has a `param` (which effect it has, see `PARAMS`), a `nominal` value (no change) and a
hard range `low..high` (or `choices`). Default magnitudes follow appendix A.2 of the paper.

A `DRSample` is fully determined by (spec, seed): each factor draws from its own sub-stream
`np.random.default_rng([seed, crc32(factor name)])`, so adding, removing or reordering factors does
not change the other factors' values.

The sample is applied to a world through the `DRTarget` protocol, which the PyBullet world
implements; this module never imports the world.
"""
from __future__ import annotations

import json
import math
import zlib
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import Any, Mapping, Protocol, Sequence

import numpy as np

from dexsim_sim.documents import load_document
from dexsim_sim.datasets.card import spec_hash

CONFIG_DIR = Path(__file__).resolve().parents[1] / "config"
MAX_DISTRACTORS = 20             # distractors per scene: more no longer fit on a table top
MAX_SKILL_NOISE_RAD = 0.2        # rad: larger joint noise is no longer a demonstration
MAX_SKILL_NOISE_M = 0.05         # m: the same for end-effector noise
MAX_START_NOISE_RAD = 0.5        # rad: start-pose noise (a different start, not a perturbed skill)
EE_NOISE_DAMPING = 0.01          # damped least squares: near a singularity the offsets stay bounded
SKILL_NOISE_STREAM = 0x5EED_D417  # second seed word of the skill-noise stream (independent of factors)
SPEC_VERSION = 1
NORMAL_DEFAULT_STD_FRACTION = 0.25   # default std of normal_clipped = 1/4 of (high - low)
TABLE_SURFACE = "table"
BACKGROUND_SURFACE = "background"
OBJECT_SURFACE_PREFIX = "object:"    # set_texture surface for an object: "object:<name>"
DEFAULT_TEXTURE = "default"          # texture id meaning "the scene file's own texture/colour"


class DRSpecError(ValueError):
    """A DR spec is malformed; the message names the factor and field."""


class DRApplyError(RuntimeError):
    """A DR sample does not fit the spec or the target it is applied to."""


class Kind(str, Enum):
    AI = "AI"   # action-invariant
    SA = "SA"   # semantic-aware


class Distribution(str, Enum):
    UNIFORM = "uniform"
    NORMAL_CLIPPED = "normal_clipped"
    CHOICE = "choice"


class ValueKind(str, Enum):
    CONTINUOUS = "continuous"   # float vector of fixed dimension
    COUNT = "count"             # integer count (distractors)
    CHOICE = "choice"           # one of a list of ids (textures)


@dataclass(frozen=True)
class ParamInfo:
    """What a param means: its kind, value shape and whether it names objects."""

    kind: Kind
    value_kind: ValueKind
    dim: int                 # vector length for CONTINUOUS/COUNT, 0 for CHOICE
    per_object: bool         # the factor lists `targets` (object names), value is {name: value}
    doc: str


PARAMS: dict[str, ParamInfo] = {
    "light_distance": ParamInfo(Kind.AI, ValueKind.CONTINUOUS, 1, False,
                                "m, added to the light's distance from the scene centre"),
    "light_color": ParamInfo(Kind.AI, ValueKind.CONTINUOUS, 3, False, "RGB multipliers of the light colour"),
    "light_intensity": ParamInfo(Kind.AI, ValueKind.CONTINUOUS, 1, False, "multiplier of the light intensity"),
    "table_texture": ParamInfo(Kind.AI, ValueKind.CHOICE, 0, False, "texture id of the table top"),
    "background_texture": ParamInfo(Kind.AI, ValueKind.CHOICE, 0, False, "texture id of the floor/background"),
    "object_texture": ParamInfo(Kind.AI, ValueKind.CHOICE, 0, True, "texture id of each target object"),
    "distractors": ParamInfo(Kind.AI, ValueKind.COUNT, 1, False,
                             "number of distractor objects (categories from `choices`, x-y in `region`)"),
    "camera_position": ParamInfo(Kind.AI, ValueKind.CONTINUOUS, 3, False,
                                 "m, xyz offset of the camera in its own body frame (x fwd, z up)"),
    "camera_orientation": ParamInfo(Kind.AI, ValueKind.CONTINUOUS, 3, False,
                                    "rad, roll-pitch-yaw offset of the camera body frame"),
    "camera_fov": ParamInfo(Kind.AI, ValueKind.CONTINUOUS, 1, False,
                            "focal-length scale (f' = s f; s > 1 narrows the field of view)"),
    "object_rotation": ParamInfo(Kind.SA, ValueKind.CONTINUOUS, 1, True, "rad, yaw offset about world z"),
    "object_shift": ParamInfo(Kind.SA, ValueKind.CONTINUOUS, 2, True, "m, world x-y offset"),
    "object_scale": ParamInfo(Kind.SA, ValueKind.CONTINUOUS, 3, True, "per-axis scale of the object's size"),
    "object_mass": ParamInfo(Kind.SA, ValueKind.CONTINUOUS, 1, True, "multiplier of the object's mass"),
    "object_friction": ParamInfo(Kind.SA, ValueKind.CONTINUOUS, 1, True,
                                 "multiplier of the object's lateral friction"),
}

# Neutral values of the grouped DRTarget calls when a spec has no factor for that param.
NEUTRAL: dict[str, Any] = {
    "light_distance": 0.0, "light_color": [1.0, 1.0, 1.0], "light_intensity": 1.0,
    "camera_position": [0.0, 0.0, 0.0], "camera_orientation": [0.0, 0.0, 0.0], "camera_fov": 1.0,
    "object_rotation": 0.0, "object_shift": [0.0, 0.0], "object_mass": 1.0, "object_friction": 1.0,
}


def _vec(where: str, value: Any, dim: int) -> tuple[float, ...]:
    """A scalar (dim 1) or a list of `dim` finite numbers."""
    if dim == 1 and isinstance(value, (int, float)) and not isinstance(value, bool):
        value = [value]
    if not isinstance(value, (list, tuple)) or len(value) != dim:
        raise DRSpecError(f"{where}: expected {dim} number{'s' if dim > 1 else ''}, got {value!r}")
    out = []
    for v in value:
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
            raise DRSpecError(f"{where}: expected finite numbers, got {value!r}")
        out.append(float(v))
    return tuple(out)


@dataclass(frozen=True)
class Factor:
    """One randomized quantity. Continuous/count factors use low/high/nominal, choice factors choices/nominal."""

    name: str
    param: str
    kind: Kind
    distribution: Distribution
    nominal: Any
    low: tuple[float, ...] = ()
    high: tuple[float, ...] = ()
    std: tuple[float, ...] = ()          # normal_clipped only; default NORMAL_DEFAULT_STD_FRACTION*(high-low)
    choices: tuple[str, ...] = ()        # choice factors; distractors: the categories
    targets: tuple[str, ...] = ()        # per-object factors: object names (scene `objects[].name`)
    region: tuple[float, ...] = ()       # distractors: (x_min, y_min, x_max, y_max), m, world frame
    description: str = ""

    def __post_init__(self) -> None:
        w = f"factor '{self.name}'"
        if not isinstance(self.name, str) or not self.name:
            raise DRSpecError(f"factor name: expected a non-empty string, got {self.name!r}")
        if self.param not in PARAMS:
            raise DRSpecError(f"{w}.param: unknown {self.param!r}; valid: {sorted(PARAMS)}")
        info = PARAMS[self.param]
        object.__setattr__(self, "kind", _enum(Kind, self.kind, f"{w}.kind"))
        object.__setattr__(self, "distribution", _enum(Distribution, self.distribution, f"{w}.distribution"))
        if self.kind != info.kind:
            raise DRSpecError(f"{w}.kind: param {self.param!r} is {info.kind.value}, got {self.kind.value}")
        if info.value_kind == ValueKind.CHOICE:
            self._check_choice(w)
        else:
            self._check_range(w, info)
        if info.per_object:
            object.__setattr__(self, "targets", _names(f"{w}.targets", self.targets))
        elif self.targets:
            raise DRSpecError(f"{w}.targets: param {self.param!r} takes no targets, got {self.targets!r}")

    def _check_choice(self, w: str) -> None:
        if self.distribution != Distribution.CHOICE:
            raise DRSpecError(f"{w}.distribution: param {self.param!r} needs 'choice', got {self.distribution.value}")
        choices = _names(f"{w}.choices", self.choices)
        if self.nominal not in choices:
            raise DRSpecError(f"{w}.nominal: {self.nominal!r} is not one of choices {list(choices)}")
        if self.low or self.high or self.std or self.region:
            raise DRSpecError(f"{w}: a choice factor takes no low/high/std/region")
        object.__setattr__(self, "choices", choices)

    def _check_range(self, w: str, info: ParamInfo) -> None:
        if self.distribution == Distribution.CHOICE:
            raise DRSpecError(f"{w}.distribution: param {self.param!r} is numeric, 'choice' is not allowed")
        low = _vec(f"{w}.low", self.low, info.dim)
        high = _vec(f"{w}.high", self.high, info.dim)
        nominal = _vec(f"{w}.nominal", self.nominal, info.dim)
        for i, (lo, no, hi) in enumerate(zip(low, nominal, high)):
            if not lo <= no <= hi:
                raise DRSpecError(f"{w}: need low <= nominal <= high, got {lo} <= {no} <= {hi} at index {i}")
        object.__setattr__(self, "low", low)
        object.__setattr__(self, "high", high)
        object.__setattr__(self, "nominal", nominal)
        if self.distribution == Distribution.NORMAL_CLIPPED:
            std = (_vec(f"{w}.std", self.std, info.dim) if self.std else
                   tuple(NORMAL_DEFAULT_STD_FRACTION * (h - l) for l, h in zip(low, high)))
            if any(s < 0 for s in std):
                raise DRSpecError(f"{w}.std: expected >= 0, got {list(std)}")
            object.__setattr__(self, "std", std)
        elif self.std:
            raise DRSpecError(f"{w}.std: only normal_clipped takes std, distribution is {self.distribution.value}")
        if info.value_kind == ValueKind.COUNT:
            if self.distribution != Distribution.UNIFORM:
                raise DRSpecError(f"{w}.distribution: counts are drawn uniformly, got {self.distribution.value}")
            if any(v != int(v) or v < 0 for v in low + high + nominal):
                raise DRSpecError(f"{w}: counts low/nominal/high must be non-negative integers")
            if max(high) > MAX_DISTRACTORS:
                raise DRSpecError(f"{w}.high: at most {MAX_DISTRACTORS} distractors, got {max(high):g}")
            region = _vec(f"{w}.region", self.region, 4)
            if not (region[0] < region[2] and region[1] < region[3]):
                raise DRSpecError(f"{w}.region: expected x_min < x_max and y_min < y_max, got {list(region)}")
            object.__setattr__(self, "region", region)
            object.__setattr__(self, "choices", _names(f"{w}.choices", self.choices))
        elif self.region or self.choices:
            raise DRSpecError(f"{w}: only distractors take region/choices")

    @property
    def info(self) -> ParamInfo:
        return PARAMS[self.param]

    @property
    def stream_id(self) -> int:
        """Stable sub-stream id: depends on the factor's name only."""
        return zlib.crc32(self.name.encode("utf-8"))

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"name": self.name, "param": self.param, "kind": self.kind.value,
                             "distribution": self.distribution.value}
        if self.info.value_kind == ValueKind.CHOICE:
            d.update(nominal=self.nominal, choices=list(self.choices))
        else:
            d.update(nominal=_plain(self.nominal), low=_plain(self.low), high=_plain(self.high))
            if self.std:
                d["std"] = _plain(self.std)
            if self.region:
                d.update(region=list(self.region), choices=list(self.choices))
        if self.targets:
            d["targets"] = list(self.targets)
        if self.description:
            d["description"] = self.description
        return d

    @classmethod
    def from_dict(cls, d: Mapping[str, Any], where: str = "factor") -> "Factor":
        if not isinstance(d, Mapping):
            raise DRSpecError(f"{where}: expected a mapping, got {type(d).__name__}")
        known = {"name", "param", "kind", "distribution", "nominal", "low", "high", "std", "choices",
                 "targets", "region", "description"}
        unknown = sorted(set(d) - known)
        if unknown:
            raise DRSpecError(f"{where} ({d.get('name')!r}): unknown field(s) {unknown}")
        for key in ("name", "param", "kind", "distribution", "nominal"):
            if key not in d:
                raise DRSpecError(f"{where} ({d.get('name')!r}).{key}: missing")
        return cls(name=d["name"], param=d["param"], kind=d["kind"],
                   distribution=d["distribution"], nominal=d["nominal"],
                   low=d.get("low", ()), high=d.get("high", ()), std=d.get("std", ()),
                   choices=d.get("choices", ()), targets=d.get("targets", ()),
                   region=d.get("region", ()), description=str(d.get("description", "")))


def _names(where: str, value: Any) -> tuple[str, ...]:
    """A non-empty list of unique non-empty strings."""
    if (not isinstance(value, (list, tuple)) or not value or len(set(value)) != len(value)
            or not all(isinstance(v, str) and v for v in value)):
        raise DRSpecError(f"{where}: expected a list of unique non-empty strings, got {value!r}")
    return tuple(value)


def _enum(enum_cls: type[Enum], value: Any, where: str) -> Any:
    try:
        return enum_cls(value.value if isinstance(value, Enum) else value)
    except ValueError:
        raise DRSpecError(f"{where}: expected one of {[e.value for e in enum_cls]}, got {value!r}") from None


def _plain(v: tuple[float, ...]) -> float | list[float]:
    return v[0] if len(v) == 1 else list(v)


@dataclass(frozen=True)
class SkillNoise:
    """Noise injected into the executed skill (DART, Laskey et al. 2017): the arm follows the
    planned joint targets plus a smooth Ornstein-Uhlenbeck offset, n_{t+1} = rho n_t +
    sqrt(1 - rho^2) std e_t, so it visits states off the nominal path; the recorded action stays
    the clean planned target (the correction back to the plan). The gripper is never perturbed;
    the noise fades to zero over the last ``clean_steps`` steps, so the task check sees the skill's
    own end. Drawn from the episode seed (a stream of its own): every episode is regenerable.

    Two spaces, added when both are set: ``joint_std_rad`` per joint, or ``ee_std_m`` /
    ``ee_rot_std_rad`` per axis of the end effector's position / orientation, mapped to joint
    offsets through the arm's Jacobian at the planned configuration (damped least squares). The
    same end-effector noise means the same thing on a 0.6 m WidowX and a 1.2 m AUBO, which joint
    noise does not (0.03 rad moves the WidowX's gripper about 1.5 cm, the AUBO's about 3 cm).

    ``start_ee_std_m`` / ``start_ee_rot_std_rad``: the arm starts each demonstration away from its
    home pose by an end-effector offset of this size per axis (mapped to joints the same way) and
    the skill is planned from there, so the choices that depend on the current pose (which of a
    symmetric object's equivalent grasps is nearest the wrist) are shown from both sides of their
    boundary. Without it every demonstration starts at home and the grasp is a step function of the
    object's yaw alone: a regressed policy averages the two grasps at the step (a cube near 45
    degrees to the wrist) and closes across the diagonal. With it the label depends on the wrist as
    well, and in closed loop the policy's own first motion decides the grasp."""

    joint_std_rad: float = 0.0
    correlation: float = 0.8       # rho per control step
    clean_steps: int = 5
    ee_std_m: float = 0.0
    ee_rot_std_rad: float = 0.0
    start_ee_std_m: float = 0.0
    start_ee_rot_std_rad: float = 0.0

    def __post_init__(self) -> None:
        if not (math.isfinite(self.joint_std_rad) and 0.0 <= self.joint_std_rad <= MAX_SKILL_NOISE_RAD):
            raise DRSpecError(f"skill_noise.joint_std_rad: expected 0 <= std <= {MAX_SKILL_NOISE_RAD}, "
                              f"got {self.joint_std_rad!r}")
        if not (math.isfinite(self.ee_std_m) and 0.0 <= self.ee_std_m <= MAX_SKILL_NOISE_M):
            raise DRSpecError(f"skill_noise.ee_std_m: expected 0 <= std <= {MAX_SKILL_NOISE_M}, got {self.ee_std_m!r}")
        if not (math.isfinite(self.ee_rot_std_rad) and 0.0 <= self.ee_rot_std_rad <= MAX_SKILL_NOISE_RAD):
            raise DRSpecError(f"skill_noise.ee_rot_std_rad: expected 0 <= std <= {MAX_SKILL_NOISE_RAD}, "
                              f"got {self.ee_rot_std_rad!r}")
        if not (math.isfinite(self.correlation) and 0.0 <= self.correlation < 1.0):
            raise DRSpecError(f"skill_noise.correlation: expected 0 <= rho < 1, got {self.correlation!r}")
        if isinstance(self.clean_steps, bool) or not isinstance(self.clean_steps, int) or self.clean_steps < 0:
            raise DRSpecError(f"skill_noise.clean_steps: expected an integer >= 0, got {self.clean_steps!r}")
        if not (math.isfinite(self.start_ee_std_m) and 0.0 <= self.start_ee_std_m <= MAX_SKILL_NOISE_M):
            raise DRSpecError(f"skill_noise.start_ee_std_m: expected 0 <= std <= {MAX_SKILL_NOISE_M}, "
                              f"got {self.start_ee_std_m!r}")
        if not (math.isfinite(self.start_ee_rot_std_rad) and 0.0 <= self.start_ee_rot_std_rad <= MAX_START_NOISE_RAD):
            raise DRSpecError(f"skill_noise.start_ee_rot_std_rad: expected 0 <= std <= {MAX_START_NOISE_RAD}, "
                              f"got {self.start_ee_rot_std_rad!r}")

    @property
    def moves_start(self) -> bool:
        return bool(self.start_ee_std_m or self.start_ee_rot_std_rad)

    def _ou(self, rng, stds: np.ndarray, steps: int) -> np.ndarray:
        out = np.zeros((steps, len(stds)))
        n = rng.normal(0.0, 1.0, len(stds)) * stds
        innovation = math.sqrt(1.0 - self.correlation ** 2) * stds
        for t in range(steps):
            out[t] = n
            n = self.correlation * n + rng.normal(0.0, 1.0, len(stds)) * innovation
        if self.clean_steps:
            out *= np.clip((steps - 1 - np.arange(steps)) / self.clean_steps, 0.0, 1.0)[:, None]
        return out

    def offsets(self, seed: int, steps: int, dof: int) -> np.ndarray:
        """(steps, dof) joint-space offsets (rad) of the episode with ``seed``."""
        out = np.zeros((steps, dof))
        if self.joint_std_rad == 0.0 or steps == 0:
            return out
        rng = np.random.default_rng([int(seed), SKILL_NOISE_STREAM])
        return self._ou(rng, np.full(dof, self.joint_std_rad), steps)

    def ee_offsets(self, seed: int, steps: int, arms: int = 1) -> np.ndarray:
        """(steps, arms, 6) end-effector offsets of the episode with ``seed``: metres along x, y, z,
        then radians about x, y, z (a small rotation vector), per arm (its own stream)."""
        out = np.zeros((steps, arms, 6))
        if (self.ee_std_m == 0.0 and self.ee_rot_std_rad == 0.0) or steps == 0:
            return out
        stds = np.array([self.ee_std_m] * 3 + [self.ee_rot_std_rad] * 3)
        for a in range(arms):
            out[:, a] = self._ou(np.random.default_rng([int(seed), SKILL_NOISE_STREAM + 1, a]), stds, steps)
        return out

    def joint_offsets(self, seed: int, q: np.ndarray, chains, columns) -> np.ndarray:
        """(steps, dof) joint offsets for the planned joint path ``q`` (steps, dof): the joint-space
        part plus, per arm (its kinematic ``chains`` and ``columns`` of ``q``), the end-effector part
        through the damped least-squares inverse of the Jacobian at each planned configuration."""
        q = np.asarray(q, float)
        out = self.offsets(seed, *q.shape)
        if self.ee_std_m == 0.0 and self.ee_rot_std_rad == 0.0:
            return out
        ee = self.ee_offsets(seed, len(q), len(chains))
        for a, (chain, cols) in enumerate(zip(chains, columns)):
            jac = chain.jacobian(q[:, cols])                                  # (steps, 6, n)
            jjt = jac @ np.swapaxes(jac, 1, 2) + EE_NOISE_DAMPING ** 2 * np.eye(6)
            out[:, cols] += np.einsum("tji,tj->ti", jac, np.linalg.solve(jjt, ee[:, a][..., None])[..., 0])
        return out

    def start_offsets(self, seed: int, q0: np.ndarray, chains, columns) -> np.ndarray:
        """(dof,) joint offset of the episode's start pose from ``q0`` (its own stream per arm): an
        end-effector offset of ``start_ee_std_m`` / ``start_ee_rot_std_rad`` per axis through the
        damped least-squares inverse of the Jacobian at ``q0``."""
        q0 = np.asarray(q0, float)
        out = np.zeros_like(q0)
        if not self.moves_start:
            return out
        stds = np.array([self.start_ee_std_m] * 3 + [self.start_ee_rot_std_rad] * 3)
        for a, (chain, cols) in enumerate(zip(chains, columns)):
            ee = np.random.default_rng([int(seed), SKILL_NOISE_STREAM + 2, a]).normal(0.0, 1.0, 6) * stds
            jac = chain.jacobian(q0[cols][None])[0]                           # (6, n)
            out[cols] = jac.T @ np.linalg.solve(jac @ jac.T + EE_NOISE_DAMPING ** 2 * np.eye(6), ee)
        return out

    def to_dict(self) -> dict[str, Any]:
        out = {"joint_std_rad": self.joint_std_rad, "correlation": self.correlation, "clean_steps": self.clean_steps}
        if self.ee_std_m or self.ee_rot_std_rad:      # absent = 0 (joint-noise specs keep their hash)
            out.update(ee_std_m=self.ee_std_m, ee_rot_std_rad=self.ee_rot_std_rad)
        if self.moves_start:                          # absent = 0 (earlier specs keep their hash)
            out.update(start_ee_std_m=self.start_ee_std_m, start_ee_rot_std_rad=self.start_ee_rot_std_rad)
        return out

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "SkillNoise":
        if not isinstance(d, Mapping):
            raise DRSpecError(f"skill_noise: expected a mapping, got {type(d).__name__}")
        unknown = sorted(set(d) - {"joint_std_rad", "correlation", "clean_steps", "ee_std_m", "ee_rot_std_rad",
                                 "start_ee_std_m", "start_ee_rot_std_rad"})
        if unknown:
            raise DRSpecError(f"skill_noise: unknown field(s) {unknown}")
        try:
            return cls(**{k: (int(v) if k == "clean_steps" else float(v)) for k, v in d.items()})
        except (TypeError, ValueError) as exc:
            raise DRSpecError(f"skill_noise: {exc}") from None


@dataclass(frozen=True)
class DRSpec:
    """A named set of DR factors for one task, and the noise injected into the executed skill."""

    name: str
    task: str
    factors: tuple[Factor, ...]
    version: int = SPEC_VERSION
    skill_noise: SkillNoise | None = None

    def __post_init__(self) -> None:
        if self.version != SPEC_VERSION:
            raise DRSpecError(f"version: expected {SPEC_VERSION}, got {self.version!r}")
        names = [f.name for f in self.factors]
        dup = sorted({n for n in names if names.count(n) > 1})
        if dup:
            raise DRSpecError(f"factors: duplicate name(s) {dup}")
        singles = [f.param for f in self.factors if not f.info.per_object]
        dup_params = sorted({p for p in singles if singles.count(p) > 1})
        if dup_params:
            raise DRSpecError(f"factors: param(s) {dup_params} appear more than once")
        per_obj = [(f.param, t) for f in self.factors if f.info.per_object for t in f.targets]
        dup_targets = sorted({f"{p}:{t}" for p, t in per_obj if per_obj.count((p, t)) > 1})
        if dup_targets:
            raise DRSpecError(f"factors: object(s) randomized twice by the same param: {dup_targets}")
        object.__setattr__(self, "factors", tuple(self.factors))

    def factor(self, name: str) -> Factor:
        for f in self.factors:
            if f.name == name:
                return f
        raise KeyError(f"no factor {name!r}; factors: {[f.name for f in self.factors]}")

    @property
    def factor_names(self) -> list[str]:
        return [f.name for f in self.factors]

    def subset(self, names: Sequence[str]) -> "DRSpec":
        """The spec restricted to the named factors (spec order kept)."""
        missing = sorted(set(names) - set(self.factor_names))
        if missing:
            raise DRSpecError(f"subset: unknown factor(s) {missing}")
        return DRSpec(self.name, self.task, tuple(f for f in self.factors if f.name in set(names)), self.version,
                      self.skill_noise)

    def to_dict(self) -> dict[str, Any]:
        out = {"name": self.name, "task": self.task, "version": self.version,
               "factors": [f.to_dict() for f in self.factors]}
        if self.skill_noise is not None:       # absent = none (older specs keep their hash)
            out["skill_noise"] = self.skill_noise.to_dict()
        return out

    def spec_hash(self) -> str:
        return spec_hash(self.to_dict())

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "DRSpec":
        if not isinstance(d, Mapping):
            raise DRSpecError(f"spec: expected a mapping, got {type(d).__name__}")
        for key in ("name", "task", "factors"):
            if key not in d:
                raise DRSpecError(f"spec.{key}: missing")
        if not isinstance(d["factors"], list):
            raise DRSpecError(f"spec.factors: expected a list, got {type(d['factors']).__name__}")
        factors = tuple(Factor.from_dict(fd, f"factors[{i}]") for i, fd in enumerate(d["factors"]))
        noise = d.get("skill_noise")
        return cls(name=str(d["name"]), task=str(d["task"]), factors=factors,
                   version=int(d.get("version", SPEC_VERSION)),
                   skill_noise=SkillNoise.from_dict(noise) if noise is not None else None)


def load_dr_spec(path_or_task: str | Path) -> DRSpec:
    """Load a DR spec from a YAML/JSON file, or the shipped default for a task name (`grasp`, ...)."""
    path = Path(path_or_task)
    if not path.suffix and not path.exists():
        path = CONFIG_DIR / f"{path_or_task}.yaml"
        if not path.exists():
            shipped = sorted(p.stem for p in CONFIG_DIR.glob("*.yaml"))
            raise DRSpecError(f"no DR spec for task {str(path_or_task)!r}; shipped: {shipped}")
    return load_document(path, DRSpec.from_dict, DRSpecError, what="spec")


@dataclass(frozen=True)
class DRSample:
    """One draw: factor name -> value (JSON types), plus how it was drawn."""

    seed: int
    spec_hash: str
    values: dict[str, Any]
    boundary: str | None = None        # ADR: "<factor>:low|high" when a boundary was pinned
    extents: dict[str, list[float]] | None = None   # ADR: factor -> [low extent, high extent]

    def to_dict(self) -> dict[str, Any]:
        return {"seed": self.seed, "spec_hash": self.spec_hash, "values": self.values,
                "boundary": self.boundary, "extents": self.extents}

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "DRSample":
        return cls(seed=int(d["seed"]), spec_hash=str(d["spec_hash"]), values=dict(d["values"]),
                   boundary=d.get("boundary"), extents=d.get("extents"))


LOW, HIGH = "low", "high"


def factor_bounds(factor: Factor, low_extent: float = 1.0, high_extent: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """Current (low, high) of a numeric factor: nominal + extent * (hard limit - nominal), extents in [0, 1]."""
    nominal, low, high = (np.asarray(v, dtype=float) for v in (factor.nominal, factor.low, factor.high))
    return nominal + low_extent * (low - nominal), nominal + high_extent * (high - nominal)


def sample_factor(factor: Factor, rng: np.random.Generator, low_extent: float = 1.0,
                  high_extent: float = 1.0, pin: str | None = None) -> Any:
    """Draw one factor's value (JSON types) from its current range; `pin` = LOW/HIGH returns that boundary.

    Choice factors use `high_extent` as the probability of drawing from all choices instead of the
    nominal; pinned HIGH they draw a non-nominal choice.
    """
    info = factor.info
    if info.per_object:
        return {t: _sample_one(factor, rng, low_extent, high_extent, pin) for t in factor.targets}
    return _sample_one(factor, rng, low_extent, high_extent, pin)


def _sample_one(factor: Factor, rng: np.random.Generator, lo_ext: float, hi_ext: float, pin: str | None) -> Any:
    info = factor.info
    if info.value_kind == ValueKind.CHOICE:
        others = [c for c in factor.choices if c != factor.nominal]
        if pin == HIGH and others:
            return others[int(rng.integers(len(others)))]
        if rng.random() < hi_ext:
            return factor.choices[int(rng.integers(len(factor.choices)))]
        return factor.nominal
    lo, hi = factor_bounds(factor, lo_ext, hi_ext)
    if info.value_kind == ValueKind.COUNT:
        lo_n, hi_n = math.ceil(lo[0] - 1e-9), math.floor(hi[0] + 1e-9)
        n = {LOW: lo_n, HIGH: hi_n}.get(pin, None) if pin else None
        if n is None:
            n = int(rng.integers(lo_n, hi_n + 1))
        x0, y0, x1, y1 = factor.region
        return [{"category": factor.choices[int(rng.integers(len(factor.choices)))],
                 "xy": [float(rng.uniform(x0, x1)), float(rng.uniform(y0, y1))],
                 "yaw": float(rng.uniform(-math.pi, math.pi))} for _ in range(n)]
    if pin == LOW:
        v = lo
    elif pin == HIGH:
        v = hi
    elif factor.distribution == Distribution.UNIFORM:
        v = rng.uniform(lo, hi)
    else:
        v = np.clip(rng.normal(np.asarray(factor.nominal), np.asarray(factor.std)), lo, hi)
    return _plain(tuple(float(x) for x in v))


class DRSampler:
    """Seeded sampler over a spec's full ranges (ADR narrows them via `extents`)."""

    def __init__(self, spec: DRSpec):
        self.spec = spec
        self._hash = spec.spec_hash()

    def rng_for(self, seed: int, factor: Factor) -> np.random.Generator:
        return np.random.default_rng([int(seed), factor.stream_id])

    def sample(self, seed: int, extents: Mapping[str, Sequence[float]] | None = None,
               pin: tuple[str, str] | None = None) -> DRSample:
        """Draw every factor. `extents[name] = (low_extent, high_extent)`; `pin = (factor, LOW|HIGH)`."""
        if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
            raise DRSpecError(f"seed: expected a non-negative integer, got {seed!r}")
        values: dict[str, Any] = {}
        for f in self.spec.factors:
            lo_ext, hi_ext = extents[f.name] if extents is not None else (1.0, 1.0)
            side = pin[1] if pin is not None and pin[0] == f.name else None
            values[f.name] = sample_factor(f, self.rng_for(seed, f), lo_ext, hi_ext, side)
        return DRSample(seed=int(seed), spec_hash=self._hash, values=values,
                        boundary=f"{pin[0]}:{pin[1]}" if pin else None,
                        extents={k: [float(v) for v in e] for k, e in extents.items()} if extents else None)

    def nominal(self) -> DRSample:
        """The no-randomization sample (every factor at its nominal value)."""
        zero = {f.name: (0.0, 0.0) for f in self.spec.factors}
        return self.sample(0, zero)


@dataclass(frozen=True)
class DistractorSpec:
    """One distractor to add: an asset-library category, x-y on the table (m, world), yaw (rad)."""

    category: str
    xy: tuple[float, float]
    yaw: float


class DRTarget(Protocol):
    """What a world must offer to receive a DR sample. Every call is relative to the scene's nominal.

    The world keeps its nominal scene; `reset_dr()` restores it before the next sample is applied.
    """

    def object_names(self) -> Sequence[str]: ...

    def reset_dr(self) -> None: ...

    def set_light(self, distance_offset_m: float, color_scale: Sequence[float], intensity_scale: float) -> None: ...

    def set_texture(self, surface: str, texture_id: str) -> None: ...

    def set_camera(self, position_offset_m: Sequence[float], rpy_offset_rad: Sequence[float],
                   focal_scale: float) -> None: ...

    def add_distractors(self, specs: Sequence[DistractorSpec]) -> None: ...

    def set_object_pose_offset(self, name: str, dxy_m: Sequence[float], dyaw_rad: float) -> None: ...

    def set_object_scale(self, name: str, scale_xyz: Sequence[float]) -> None: ...

    def set_dynamics(self, name: str, mass_scale: float, friction_scale: float) -> None: ...


@dataclass
class _Grouped:
    light: dict[str, Any] = field(default_factory=dict)
    camera: dict[str, Any] = field(default_factory=dict)
    objects: dict[str, dict[str, Any]] = field(default_factory=dict)
    textures: list[tuple[str, str]] = field(default_factory=list)
    distractors: list[DistractorSpec] = field(default_factory=list)


def apply_sample(spec: DRSpec, sample: DRSample, target: DRTarget) -> None:
    """Reset the target to nominal, then apply every factor of `sample` through the DRTarget calls.

    Order: object scale, pose, dynamics (SA), then textures, light, camera, distractors (AI), so
    distractors are placed knowing the final object poses.
    """
    if sample.spec_hash != spec.spec_hash():
        raise DRApplyError(f"sample spec_hash {sample.spec_hash[:12]} != spec {spec.spec_hash()[:12]}")
    g = _group(spec, sample, set(target.object_names()))
    target.reset_dr()
    for name, o in g.objects.items():
        if "object_scale" in o:
            target.set_object_scale(name, o["object_scale"])
        if "object_rotation" in o or "object_shift" in o:
            target.set_object_pose_offset(name, o.get("object_shift", NEUTRAL["object_shift"]),
                                          o.get("object_rotation", NEUTRAL["object_rotation"]))
        if "object_mass" in o or "object_friction" in o:
            target.set_dynamics(name, o.get("object_mass", NEUTRAL["object_mass"]),
                                o.get("object_friction", NEUTRAL["object_friction"]))
    for surface, texture_id in g.textures:
        target.set_texture(surface, texture_id)
    if g.light:
        target.set_light(*(g.light.get(p, NEUTRAL[p]) for p in ("light_distance", "light_color", "light_intensity")))
    if g.camera:
        target.set_camera(*(g.camera.get(p, NEUTRAL[p]) for p in ("camera_position", "camera_orientation",
                                                                    "camera_fov")))
    if g.distractors:
        target.add_distractors(g.distractors)


def check_targets(spec: DRSpec, objects) -> None:
    """Raise DRSpecError when a per-object factor of ``spec`` names an object not in ``objects``."""
    objects = set(objects)
    for i, f in enumerate(spec.factors):
        missing = sorted(set(f.targets) - objects) if f.info.per_object else []
        if missing:
            raise DRSpecError(f"factors[{i}] ({f.name!r}).targets: object(s) {missing} not in the scene "
                              f"(objects: {sorted(objects)})")


def _group(spec: DRSpec, sample: DRSample, objects: set[str]) -> _Grouped:
    g = _Grouped()
    for f in spec.factors:
        if f.name not in sample.values:
            raise DRApplyError(f"sample has no value for factor {f.name!r}")
        v = sample.values[f.name]
        if f.info.per_object:
            missing = sorted(set(f.targets) - objects)
            if missing:
                raise DRApplyError(f"factor {f.name!r}.targets: object(s) {missing} not in the world {sorted(objects)}")
            for obj, ov in v.items():
                if f.param == "object_texture":
                    g.textures.append((OBJECT_SURFACE_PREFIX + obj, ov))
                else:
                    g.objects.setdefault(obj, {})[f.param] = ov
        elif f.param.startswith("light_"):
            g.light[f.param] = v
        elif f.param.startswith("camera_"):
            g.camera[f.param] = v
        elif f.param == "table_texture":
            g.textures.append((TABLE_SURFACE, v))
        elif f.param == "background_texture":
            g.textures.append((BACKGROUND_SURFACE, v))
        elif f.param == "distractors":
            g.distractors = [DistractorSpec(d["category"], (d["xy"][0], d["xy"][1]), d["yaw"]) for d in v]
    return g
