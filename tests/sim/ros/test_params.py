"""The node parameter schema (no ROS): types, bounds, choices, unknown names."""
from __future__ import annotations

import pytest

from dexsim_sim.ros.params import NodeParams, Param, ParamError

SCHEMA = NodeParams("demo_node", (
    Param("rate_hz", 10.0, "rate", above=0.0),
    Param("width", 640, "pixels", low=16, high=4096),
    Param("mode", "auto", "mode", choices=("auto", "egl")),
    Param("dry_run", False, "dry"),
    Param("box", [0.0, 1.0], "box"),
    Param("topics", [""], "topics"),
))


def test_values_are_checked_and_defaults_filled_in():
    out = SCHEMA.check({"rate_hz": 5, "box": [1, 2.5], "topics": ["/a"], "use_sim_time": True})
    assert out["rate_hz"] == 5.0 and type(out["rate_hz"]) is float       # `-p rate_hz:=5` is an int
    assert out["box"] == [1.0, 2.5] and out["width"] == 640 and "use_sim_time" not in out
    assert SCHEMA.check({"width": 17}, partial=True) == {"width": 17}


@pytest.mark.parametrize("values, match", [
    ({"rate_hz": 0.0}, r"rate_hz: expected > 0"),
    ({"rate_hz": float("nan")}, "finite"),
    ({"width": 8}, r"width: 8 outside \[16, 4096\]"),
    ({"width": 20.0}, "width: expected a int"),
    ({"mode": "vulkan"}, r"mode: expected one of \['auto', 'egl'\]"),
    ({"dry_run": 1}, "dry_run: expected a bool"),
    ({"topics": "/a"}, "topics: expected a list"),
    ({"box": ["a"]}, "box: expected a list of float"),
    ({"widht": 3}, r"unknown parameter\(s\) \['widht'\]"),
])
def test_bad_values_name_the_parameter(values, match):
    with pytest.raises(ParamError, match=match):
        SCHEMA.check(values)


def test_a_schema_is_consistent():
    with pytest.raises(ParamError, match="declared twice"):
        NodeParams("n", (Param("a", 1, ""), Param("a", 2, "")))
    with pytest.raises(ParamError, match="outside"):
        NodeParams("n", (Param("a", 1, "", low=2),))              # the default must satisfy its bounds
    assert SCHEMA["width"].text() == "pixels (in [16, 4096])"
    assert SCHEMA.names[:2] == ["rate_hz", "width"]
