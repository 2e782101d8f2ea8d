"""The Sim2Real test gaps (config/gaps/<task>/, appendix A.2): each one fixed condition, and its
looks (textures, distractor categories) absent from every shipped DR spec's choice lists."""
from __future__ import annotations

import pytest

from dexsim_sim.scaling.dr import CONFIG_DIR, DRSampler, load_dr_spec
from dexsim_sim.world.assets import HELD_OUT_TEXTURES, texture_names

GAPS = sorted((CONFIG_DIR / "gaps" / "grasp").glob("*.yaml"))


def test_the_ten_paper_gaps_ship():
    assert {p.stem for p in GAPS} == {"light", "object_texture", "table_texture", "background", "distractors",
                                      "camera_position", "camera_orientation", "camera_fov", "object_pose",
                                      "object_shape"}


@pytest.mark.parametrize("path", GAPS, ids=lambda p: p.stem)
def test_gap_is_one_fixed_condition(path):
    spec = load_dr_spec(path)
    assert spec.task == "grasp" and spec.factors
    for f in spec.factors:
        if f.distribution.value == "choice":
            assert len(f.choices) == 1
        else:
            assert f.low == f.high == f.nominal or f.param == "distractors" and f.low == f.high
    a, b = DRSampler(spec).sample(1).values, DRSampler(spec).sample(2).values
    if "distractors" not in a:         # distractor placement is per seed; the count and categories are fixed
        assert a == b


def test_test_looks_are_never_in_training_choices():
    shipped = [load_dr_spec(p) for p in sorted(CONFIG_DIR.glob("*.yaml"))]
    trained = {c for s in shipped for f in s.factors for c in f.choices}
    gap_choices = {c for p in GAPS for f in load_dr_spec(p).factors for c in f.choices}
    assert gap_choices and not gap_choices & trained
    assert set(HELD_OUT_TEXTURES) <= set(texture_names()) and not set(HELD_OUT_TEXTURES) & trained
