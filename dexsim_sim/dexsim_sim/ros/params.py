"""One declared parameter schema per node (in the spirit of generate_parameter_library).

A :class:`NodeParams` lists each parameter once: name, default (which fixes its type), description
and bounds or choices. A node declares from it (:func:`declare`: descriptors with the description,
ranges and read-only flag, then every value checked), `dexsim_bringup.graph` is checked against it
in a test, and the docs can list it. ROS-free except :func:`declare`, which takes the rclpy node.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Mapping

INT64_MAX = 2 ** 63 - 1
COMMON = ("use_sim_time",)            # rclpy's own parameters a launch may set on any node


class ParamError(ValueError):
    """A parameter value of the wrong type, out of its bounds, or not declared by the node."""


@dataclass(frozen=True)
class Param:
    """One parameter: ``default`` fixes the type (bool, int, float, str, or a list of one of them);
    ``low``/``high`` inclusive bounds (numbers), ``above`` an exclusive lower bound, ``choices``;
    ``dynamic``: may be set while the node runs (``ros2 param set``), which the node must handle."""

    name: str
    default: Any
    description: str
    low: float | None = None
    high: float | None = None
    above: float | None = None
    choices: tuple = ()
    dynamic: bool = False

    @property
    def kind(self) -> type:
        return type(self.default)

    @property
    def item_kind(self) -> type | None:
        """The element type of a list parameter (from its default; str for an empty default)."""
        if not isinstance(self.default, list):
            return None
        return type(self.default[0]) if self.default else str

    def check(self, value: Any) -> Any:
        """``value`` as this parameter's type, or :class:`ParamError` naming the parameter."""
        kind = self.kind
        if kind is float and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)                          # `-p rate_hz:=10` arrives as an integer
        if kind is list:
            if not isinstance(value, (list, tuple)):
                raise ParamError(f"{self.name}: expected a list, got {value!r}")
            item = self.item_kind
            value = [float(v) if item is float and isinstance(v, int) and not isinstance(v, bool) else v
                     for v in value]
            bad = [v for v in value if type(v) is not item]
            if bad:
                raise ParamError(f"{self.name}: expected a list of {item.__name__}, got {list(value)!r}")
            return list(value)
        if type(value) is not kind:
            raise ParamError(f"{self.name}: expected a {kind.__name__}, got {value!r}")
        if self.choices and value not in self.choices:
            raise ParamError(f"{self.name}: expected one of {list(self.choices)}, got {value!r}")
        if kind in (int, float):
            if kind is float and not math.isfinite(value):
                raise ParamError(f"{self.name}: expected a finite number, got {value!r}")
            if (self.low is not None and value < self.low) or (self.high is not None and value > self.high):
                raise ParamError(f"{self.name}: {value!r} outside [{self.low}, {self.high}]")
            if self.above is not None and not value > self.above:
                raise ParamError(f"{self.name}: expected > {self.above}, got {value!r}")
        return value

    def text(self) -> str:
        """The description with its bounds, as the descriptor and the docs show it."""
        extra = []
        if self.choices:
            extra.append("one of " + " | ".join(map(str, self.choices)))
        if self.above is not None:
            extra.append(f"> {self.above}")
        if self.low is not None or self.high is not None:
            extra.append(f"in [{'' if self.low is None else self.low}, {'' if self.high is None else self.high}]")
        if self.dynamic:
            extra.append("settable at run time")
        return self.description + (f" ({'; '.join(extra)})" if extra else "")


@dataclass(frozen=True)
class NodeParams:
    """The parameter schema of one node executable."""

    node: str
    params: tuple[Param, ...]

    def __post_init__(self) -> None:
        names = [p.name for p in self.params]
        dup = sorted({n for n in names if names.count(n) > 1})
        if dup:
            raise ParamError(f"{self.node}: parameter(s) declared twice: {dup}")
        for p in self.params:
            p.check(p.default)                            # every default lies in its own bounds

    @property
    def names(self) -> list[str]:
        return [p.name for p in self.params]

    def __getitem__(self, name: str) -> Param:
        for p in self.params:
            if p.name == name:
                return p
        raise KeyError(f"{self.node} has no parameter {name!r}; it has {self.names}")

    def defaults(self) -> dict[str, Any]:
        return {p.name: p.default for p in self.params}

    def check(self, values: Mapping[str, Any], partial: bool = False) -> dict[str, Any]:
        """Checked values (defaults filled in unless ``partial``); unknown names are an error."""
        unknown = sorted(set(values) - set(self.names) - set(COMMON))
        if unknown:
            raise ParamError(f"{self.node}: unknown parameter(s) {unknown}; it declares {self.names}")
        out = {} if partial else self.defaults()
        out.update({k: self[k].check(v) for k, v in values.items() if k not in COMMON})
        return out

    def markdown(self) -> str:
        cell = lambda text: str(text).replace("|", "\\|")  # noqa: E731 (a pipe would end the cell)
        rows = [f"| `{p.name}` | {p.kind.__name__} | `{cell(repr(p.default))}` | {cell(p.text())} |" for p in self.params]
        return "\n".join(["| parameter | type | default | meaning |", "|---|---|---|---|", *rows])


def declare(node, schema: NodeParams, read_only: bool = True) -> dict[str, Any]:
    """Declare every parameter of ``schema`` on the rclpy ``node`` (descriptions, ranges) and return
    the checked values; a bad value raises :class:`ParamError` naming it."""
    from rcl_interfaces.msg import FloatingPointRange, IntegerRange, ParameterDescriptor

    values = {}
    for p in schema.params:
        d = ParameterDescriptor(description=p.text(), read_only=read_only and not p.dynamic)
        if p.kind is float:
            d.dynamic_typing = True            # `-p x:=0` (an integer) for a float parameter
        elif p.kind is int and (p.low is not None or p.high is not None):
            d.integer_range = [IntegerRange(from_value=int(p.low if p.low is not None else -INT64_MAX),
                                            to_value=int(p.high if p.high is not None else INT64_MAX), step=1)]
        if p.kind is float and p.low is not None and p.high is not None:
            d.floating_point_range = [FloatingPointRange(from_value=float(p.low), to_value=float(p.high), step=0.0)]
        values[p.name] = node.declare_parameter(p.name, p.default, d).value
    return schema.check(values)


