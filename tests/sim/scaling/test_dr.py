"""DR spec validation, seeded sampling and application to a real PyBullet world."""
from __future__ import annotations

import copy
import json
import math

import numpy as np
import pytest

from dexsim_sim.datasets.card import spec_hash
from dexsim_sim.scaling.adr import boundaries
from dexsim_sim.scaling.dr import (HIGH, LOW, DRApplyError, DRSample, DRSampler, DRSpec, DRSpecError, Kind,
                                   apply_sample, factor_bounds, load_dr_spec)

TASKS = ("grasp", "open_box", "rearrange")


@pytest.mark.parametrize("task", TASKS)
def test_shipped_specs_load_and_round_trip(task):
    spec = load_dr_spec(task)
    assert spec.task == task and {f.kind for f in spec.factors} == {Kind.AI, Kind.SA}
    again = DRSpec.from_dict(json.loads(json.dumps(spec.to_dict())))
    assert again == spec and again.spec_hash() == spec.spec_hash() == spec_hash(spec.to_dict())


def test_grasp_defaults_follow_appendix_a2():
    s = load_dr_spec("grasp")
    deg5, deg15 = math.radians(5), math.radians(15)
    assert s.factor("light_distance").high == (3.0,)
    assert s.factor("camera_position").high == (0.05,) * 3 and s.factor("camera_position").low == (-0.05,) * 3
    assert s.factor("camera_orientation").high == pytest.approx((deg5,) * 3, abs=1e-4)
    assert s.factor("camera_fov").high == (1.15,)
    assert s.factor("object_rotation").high == pytest.approx((deg15,), abs=1e-4)
    assert s.factor("object_shift").high == (0.05, 0.05)
    assert s.factor("object_scale").low == (0.9,) * 3 and s.factor("object_scale").high == (1.1,) * 3


def _grasp_dict() -> dict:
    return load_dr_spec("grasp").to_dict()


@pytest.mark.parametrize("edit, message", [
    (lambda d: d["factors"][7].update(high=[0.05, 0.05]), r"factor 'camera_position'.high: expected 3 numbers"),
    (lambda d: d["factors"][9].update(nominal=2.0), r"factor 'camera_fov': need low <= nominal <= high"),
    (lambda d: d["factors"][3].update(nominal="velvet"), r"factor 'table_texture'.nominal: 'velvet' is not one"),
    (lambda d: d["factors"][0].update(kind="SA"), r"factor 'light_distance'.kind: param 'light_distance' is AI"),
    (lambda d: d["factors"][12].update(distribution="gauss"), r"factor 'object_scale'.distribution: expected one of"),
    (lambda d: d["factors"][10].update(targets="target"), r"factor 'object_rotation'.targets: expected a list"),
    (lambda d: d["factors"][1].update(param="light_colour"), r"factor 'light_color'.param: unknown 'light_colour'"),
    (lambda d: d["factors"][6].update(region=[0.5, 0, 0.2, 0.3]), r"factor 'distractors'.region: expected x_min"),
    (lambda d: d["factors"][2].update(hi=1.0), r"factors\[2\] \('light_intensity'\): unknown field\(s\) \['hi'\]"),
    (lambda d: d["factors"][2].pop("nominal"), r"factors\[2\] \('light_intensity'\).nominal: missing"),
    (lambda d: d["factors"].append(dict(d["factors"][0])), r"duplicate name\(s\) \['light_distance'\]"),
])
def test_validation_errors_name_factor_and_field(edit, message):
    d = _grasp_dict()
    edit(d)
    with pytest.raises(DRSpecError, match=message):
        DRSpec.from_dict(d)


def test_unknown_task_names_shipped_specs():
    shipped = r"\['grasp', 'open_box', 'rearrange'\]"
    with pytest.raises(DRSpecError, match=r"no DR spec for task 'juggle'; shipped: " + shipped):
        load_dr_spec("juggle")


def test_sampling_is_seeded_in_range_and_per_factor_independent():
    spec = load_dr_spec("grasp")
    sampler = DRSampler(spec)
    a, b, c = sampler.sample(11), sampler.sample(11), sampler.sample(12)
    assert a == b and a.values != c.values
    assert DRSample.from_dict(json.loads(a.to_json())) == a
    # Dropping or reordering factors leaves the others' values unchanged.
    names = spec.factor_names
    reordered = DRSpec(spec.name, spec.task, tuple(reversed(spec.subset(names[1:]).factors)))
    a2 = DRSampler(reordered).sample(11)
    assert all(a2.values[n] == a.values[n] for n in names[1:])
    for seed in range(30):
        s = sampler.sample(seed)
        for f in spec.factors:
            v = s.values[f.name]
            if f.param in ("table_texture", "background_texture"):
                assert v in f.choices
            elif f.param == "distractors":
                assert 0 <= len(v) <= 5
                x0, y0, x1, y1 = f.region
                assert all(x0 <= d["xy"][0] <= x1 and y0 <= d["xy"][1] <= y1 for d in v)
                assert all(d["category"] in f.choices for d in v)
            elif f.param == "object_texture":
                assert v["target"] in f.choices
            else:
                vals = np.atleast_1d(v["target"] if f.info.per_object else v)
                assert np.all(vals >= np.array(f.low)) and np.all(vals <= np.array(f.high)), f.name


def test_nominal_sample_and_extents():
    spec = load_dr_spec("grasp")
    sampler = DRSampler(spec)
    nom = sampler.nominal().values
    assert nom["camera_fov"] == 1.0 and nom["distractors"] == [] and nom["table_texture"] == "default"
    assert nom["object_scale"] == {"target": [1.0, 1.0, 1.0]}
    f = spec.factor("object_shift")
    lo, hi = factor_bounds(f, 0.5, 0.2)
    np.testing.assert_allclose(lo, [-0.025, -0.025])
    np.testing.assert_allclose(hi, [0.01, 0.01])
    pinned = sampler.sample(3, extents={n: (0.5, 0.2) for n in spec.factor_names}, pin=("object_shift", HIGH))
    assert pinned.values["object_shift"]["target"] == pytest.approx([0.01, 0.01])
    assert pinned.boundary == "object_shift:high"


def _single_factor_sample(spec: DRSpec, name: str) -> tuple[DRSpec, DRSample]:
    """The spec reduced to one factor, with that factor pinned at a boundary away from nominal."""
    sub = spec.subset([name])
    side = HIGH if HIGH in boundaries(sub.factor(name)) else LOW
    return sub, DRSampler(sub).sample(5, extents={name: (1.0, 1.0)}, pin=(name, side))


AI_FACTORS = [f.name for f in load_dr_spec("grasp").factors if f.kind == Kind.AI]
SA_FACTORS = [f.name for f in load_dr_spec("grasp").factors if f.kind == Kind.SA]


@pytest.mark.parametrize("name", AI_FACTORS)
def test_ai_factor_changes_pixels_not_object(dr_world, name):
    rgb0, _ = dr_world.render()
    state0 = dr_world.object_state()
    sub, sample = _single_factor_sample(load_dr_spec("grasp"), name)
    apply_sample(sub, sample, dr_world)
    rgb1, _ = dr_world.render()
    changed = np.any(rgb1 != rgb0, axis=2).mean()
    assert changed > 0.005, f"{name} changed {changed:.2%} of pixels"
    for key, v in dr_world.object_state().items():
        np.testing.assert_array_equal(v, state0[key], err_msg=f"{name} changed object {key}")


@pytest.mark.parametrize("name", SA_FACTORS)
def test_sa_factor_changes_object_as_specified(dr_world, name):
    state0 = dr_world.object_state()
    rgb0, _ = dr_world.render()
    sub, sample = _single_factor_sample(load_dr_spec("grasp"), name)
    v = np.asarray(sample.values[name]["target"])
    apply_sample(sub, sample, dr_world)
    state1 = dr_world.object_state()
    expected = copy.deepcopy(state0)
    if name == "object_rotation":
        expected["yaw"] = v
        c, s = abs(math.cos(v)), abs(math.sin(v))       # AABB of the yawed box
        w, d = state0["size"][:2]
        expected["size"] = np.array([c * w + s * d, s * w + c * d, state0["size"][2]])
    elif name == "object_shift":
        expected["xy"] = state0["xy"] + v
    elif name == "object_scale":
        expected["size"] = state0["size"] * v
    elif name == "object_mass":
        expected["mass"] = state0["mass"] * v
    elif name == "object_friction":
        expected["friction"] = state0["friction"] * v
    changed = [k for k in state0 if not np.allclose(state1[k], state0[k], atol=1e-6)]
    assert changed, f"{name} changed nothing"
    for key in state0:
        np.testing.assert_allclose(state1[key], expected[key], atol=2e-3, err_msg=f"{name}: {key}")
    rgb1, _ = dr_world.render()
    if name in ("object_mass", "object_friction"):
        np.testing.assert_array_equal(rgb1, rgb0)       # dynamics are invisible
    else:
        assert np.any(rgb1 != rgb0)


def test_full_sample_then_nominal_restores_the_scene(dr_world):
    spec = load_dr_spec("grasp")
    rgb0, seg0 = dr_world.render()
    sampler = DRSampler(spec)
    apply_sample(spec, sampler.sample(8), dr_world)
    rgb1, _ = dr_world.render()
    assert np.any(rgb1 != rgb0)
    apply_sample(spec, sampler.nominal(), dr_world)
    rgb2, seg2 = dr_world.render()
    np.testing.assert_array_equal(rgb2, rgb0)
    assert np.array_equal(seg2 >= 0, seg0 >= 0)


def test_apply_rejects_foreign_sample_and_unknown_object(dr_world):
    spec = load_dr_spec("grasp")
    other = load_dr_spec("open_box")
    with pytest.raises(DRApplyError, match="spec_hash"):
        apply_sample(spec, DRSampler(other).sample(0), dr_world)
    with pytest.raises(DRApplyError, match=r"factor 'box_texture'.targets: object\(s\) \['box'\] not in the world"):
        apply_sample(other, DRSampler(other).sample(0), dr_world)
