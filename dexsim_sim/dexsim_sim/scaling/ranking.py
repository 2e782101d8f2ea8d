"""Ranking DR factors by how much they matter, to pick the few worth randomizing.

`FactorRanker` is the protocol (the paper ranks with a foundation model; any ranker fits);
`SensitivityRanker` measures it: the success-rate drop when one factor alone is drawn from its
full range while every other factor stays nominal. Trials use common random numbers: trial i of
every factor and of the nominal baseline shares the seed `base_seed + i`.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Protocol, Sequence

from dexsim_sim.scaling.dr import DRSampler, DRSpec, Kind

# evaluate(factor_name, value, seed) -> success; factor_name None = the nominal baseline.
Evaluator = Callable[[str | None, Any, int], bool]


class RankingError(ValueError):
    """Bad ranking configuration."""


@dataclass(frozen=True)
class FactorScore:
    """A factor's score: higher = more sensitive (matters more to randomize)."""

    name: str
    kind: Kind
    score: float
    baseline_rate: float = float("nan")
    varied_rate: float = float("nan")
    n_trials: int = 0


class FactorRanker(Protocol):
    def rank(self, spec: DRSpec) -> list[FactorScore]:
        """Factors of `spec`, most important first."""
        ...


class SensitivityRanker:
    """Rank by measured success drop (baseline rate - rate with the factor alone varied)."""

    def __init__(self, evaluate: Evaluator, n_trials: int = 10, base_seed: int = 0):
        if isinstance(n_trials, bool) or not isinstance(n_trials, int) or n_trials < 1:
            raise RankingError(f"n_trials: expected an integer >= 1, got {n_trials!r}")
        if isinstance(base_seed, bool) or not isinstance(base_seed, int) or base_seed < 0:
            raise RankingError(f"base_seed: expected a non-negative integer, got {base_seed!r}")
        self.evaluate = evaluate
        self.n_trials = n_trials
        self.base_seed = base_seed

    def rank(self, spec: DRSpec) -> list[FactorScore]:
        seeds = [self.base_seed + i for i in range(self.n_trials)]
        baseline = sum(bool(self.evaluate(None, None, s)) for s in seeds) / self.n_trials
        sampler = DRSampler(spec)
        scores = []
        for f in spec.factors:
            ok = sum(bool(self.evaluate(f.name, sampler.sample(s).values[f.name], s)) for s in seeds)
            rate = ok / self.n_trials
            scores.append(FactorScore(f.name, f.kind, baseline - rate, baseline, rate, self.n_trials))
        # Stable: ties keep spec order.
        return sorted(scores, key=lambda s: -s.score)


def select_top_k(scores: Sequence[FactorScore], k: int, kinds: Sequence[Kind] | None = None) -> list[str]:
    """Names of the k best-scored factors (optionally only of the given kinds), best first."""
    if isinstance(k, bool) or not isinstance(k, int) or k < 0:
        raise RankingError(f"k: expected a non-negative integer, got {k!r}")
    ranked = sorted(scores, key=lambda s: -s.score)
    allowed = set(kinds) if kinds is not None else None
    return [s.name for s in ranked if allowed is None or s.kind in allowed][:k]
