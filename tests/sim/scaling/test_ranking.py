"""SensitivityRanker on a synthetic task where the harmful factors are known."""
from __future__ import annotations

import numpy as np
import pytest

from dexsim_sim.scaling.dr import Kind, load_dr_spec
from dexsim_sim.scaling.ranking import FactorRanker, RankingError, SensitivityRanker, select_top_k

BASE_SUCCESS = 0.9
SHIFT_TOLERANCE_M = 0.02      # the synthetic grasp fails beyond this object shift
LIGHT_TOLERANCE_M = 2.0       # ... and when the light moves away by more than this


class SyntheticTask:
    """Success with probability BASE_SUCCESS; object shift hurts a lot, light distance a little."""

    def __init__(self) -> None:
        self.calls = 0

    def __call__(self, factor: str | None, value, seed: int) -> bool:
        self.calls += 1
        ok = np.random.default_rng(seed).random() < BASE_SUCCESS
        if factor == "object_shift":
            ok = ok and bool(np.all(np.abs(value["target"]) < SHIFT_TOLERANCE_M))
        if factor == "light_distance":
            ok = ok and value < LIGHT_TOLERANCE_M
        return ok


def test_sensitivity_ranking_finds_the_harmful_factors():
    spec = load_dr_spec("grasp")
    task = SyntheticTask()
    ranker: FactorRanker = SensitivityRanker(task, n_trials=40, base_seed=100)
    scores = ranker.rank(spec)
    assert task.calls == 40 * (1 + len(spec.factors))
    assert [s.name for s in scores[:2]] == ["object_shift", "light_distance"]
    assert scores[0].score > scores[1].score > 0.0
    assert all(s.score == 0.0 for s in scores[2:])                 # common random numbers: no noise
    assert scores[0].baseline_rate == pytest.approx(scores[0].varied_rate + scores[0].score)
    assert select_top_k(scores, 2) == ["object_shift", "light_distance"]
    assert select_top_k(scores, 1, kinds=[Kind.AI]) == ["light_distance"]
    assert select_top_k(scores, 1, kinds=[Kind.SA]) == ["object_shift"]
    top = spec.subset(select_top_k(scores, 2))
    assert top.factor_names == ["light_distance", "object_shift"]   # spec order kept
    assert ranker.rank(spec) == scores                              # deterministic


def test_ranker_validation():
    with pytest.raises(RankingError, match="n_trials"):
        SensitivityRanker(SyntheticTask(), n_trials=0)
    with pytest.raises(RankingError, match="k: expected"):
        select_top_k([], -1)
