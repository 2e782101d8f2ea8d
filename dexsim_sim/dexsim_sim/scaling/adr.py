"""Automatic Domain Randomization (ADR), after OpenAI et al. 2019, "Solving Rubik's Cube".

Each factor's range is held as two extents in [0, 1]: the current range is
`nominal + extent * (hard limit - nominal)` on each side, so extent 0 is the nominal value and
extent 1 the spec's hard limit (`low`/`high`). Choice factors have one boundary (HIGH) whose
extent is the probability of drawing a random choice instead of the nominal.

Per episode, with probability `p_boundary` one boundary is pinned (that factor takes exactly its
current boundary value) while every other factor samples its current range. The success of a
pinned episode goes into that boundary's buffer; when the buffer holds `buffer_size` results its
success rate decides: >= `t_high` widens the boundary by `delta` (up to the hard limit),
<= `t_low` narrows it (down to nominal); the buffer is then cleared.

Success comes from a pluggable feedback callable (episode result -> bool): in data mode the skill
generator's verified success, in policy mode the policy's success.
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping

import numpy as np

from dexsim_sim.scaling.dr import HIGH, LOW, DRSample, DRSampler, DRSpec, Factor, ValueKind, factor_bounds

ADR_STREAM_ID = 0xADD0_0ADE   # sub-stream of the boundary choice, disjoint from the factors' crc32 ids
STATE_FORMAT = "dexsim-adr"
STATE_VERSION = 1


class ADRError(ValueError):
    """Bad ADR configuration or state."""


@dataclass(frozen=True)
class ADRConfig:
    """ADR hyper-parameters (names after the paper: p_b, m, t_L, t_H, delta)."""

    p_boundary: float = 0.5        # probability of pinning one boundary per episode
    buffer_size: int = 20          # m: results per boundary before a decision
    t_low: float = 0.4             # success rate at or below which a boundary narrows
    t_high: float = 0.8            # success rate at or above which a boundary widens
    delta: float = 0.1             # step, as a fraction of the hard range (nominal -> limit)

    def __post_init__(self) -> None:
        if not 0.0 <= self.p_boundary <= 1.0:
            raise ADRError(f"p_boundary: expected in [0, 1], got {self.p_boundary!r}")
        if isinstance(self.buffer_size, bool) or not isinstance(self.buffer_size, int) or self.buffer_size < 1:
            raise ADRError(f"buffer_size: expected an integer >= 1, got {self.buffer_size!r}")
        if not 0.0 <= self.t_low < self.t_high <= 1.0:
            raise ADRError(f"t_low/t_high: expected 0 <= t_low < t_high <= 1, got {self.t_low!r}, {self.t_high!r}")
        if not 0.0 < self.delta <= 1.0:
            raise ADRError(f"delta: expected in (0, 1], got {self.delta!r}")


def boundaries(factor: Factor) -> tuple[str, ...]:
    """The sides of a factor that can move: a side whose hard limit equals nominal is fixed."""
    if factor.info.value_kind == ValueKind.CHOICE:
        return (HIGH,) if len(factor.choices) > 1 else ()
    nominal, low, high = (np.asarray(v) for v in (factor.nominal, factor.low, factor.high))
    sides = []
    if np.any(low < nominal):
        sides.append(LOW)
    if np.any(high > nominal):
        sides.append(HIGH)
    return tuple(sides)


@dataclass
class ADRState:
    """Everything ADR needs to resume: extents, buffers, counters and the change history."""

    extents: dict[str, list[float]]                     # factor -> [low extent, high extent]
    buffers: dict[str, list[bool]]                      # "factor:side" -> results
    iteration: int = 0                                  # episodes reported
    history: list[dict[str, Any]] = field(default_factory=list)   # one entry per boundary change


class ADR:
    """ADR over a DR spec: `sample(seed)` then `report(sample, result)` for each episode."""

    def __init__(self, spec: DRSpec, config: ADRConfig | None = None,
                 feedback: Callable[[Any], bool] | None = None, state: ADRState | None = None):
        self.spec = spec
        self.config = config or ADRConfig()
        self.feedback = feedback
        self._sampler = DRSampler(spec)
        self._boundaries = [(f.name, side) for f in spec.factors for side in boundaries(f)]
        self.state = state or ADRState(extents={f.name: [0.0, 0.0] for f in spec.factors},
                                       buffers={self._key(n, s): [] for n, s in self._boundaries})
        missing = sorted(set(spec.factor_names) - set(self.state.extents))
        if missing:
            raise ADRError(f"state.extents: no entry for factor(s) {missing}")
        for key in self.boundary_keys:
            self.state.buffers.setdefault(key, [])
        if not self.state.history:
            self._record(None)

    @staticmethod
    def _key(name: str, side: str) -> str:
        return f"{name}:{side}"

    @property
    def boundary_keys(self) -> list[str]:
        return [self._key(n, s) for n, s in self._boundaries]

    def sample(self, seed: int) -> DRSample:
        """Draw one episode's DR sample; deterministic in (state, seed)."""
        rng = np.random.default_rng([int(seed), ADR_STREAM_ID])
        pin = None
        if self._boundaries and rng.random() < self.config.p_boundary:
            pin = self._boundaries[int(rng.integers(len(self._boundaries)))]
        return self._sampler.sample(seed, extents=self.state.extents, pin=pin)

    def report(self, sample: DRSample, result: Any) -> bool:
        """Feed back one episode result (through `feedback`); returns the success used."""
        if self.feedback is None:
            raise ADRError("feedback: no callable given; pass feedback= or use report_success")
        success = bool(self.feedback(result))
        self.report_success(sample, success)
        return success

    def report_success(self, sample: DRSample, success: bool) -> None:
        """Count the episode; if it pinned a boundary, buffer the result and maybe move the boundary."""
        self.state.iteration += 1
        if sample.boundary is None:
            return
        buf = self.state.buffers.get(sample.boundary)
        if buf is None:
            raise ADRError(f"sample.boundary: {sample.boundary!r} is not a boundary of this ADR")
        buf.append(bool(success))
        if len(buf) < self.config.buffer_size:
            return
        rate = sum(buf) / len(buf)
        buf.clear()
        name, side = sample.boundary.rsplit(":", 1)
        idx = 0 if side == LOW else 1
        old = self.state.extents[name][idx]
        if rate >= self.config.t_high:
            new = min(1.0, old + self.config.delta)
        elif rate <= self.config.t_low:
            new = max(0.0, old - self.config.delta)
        else:
            return
        if new != old:
            self.state.extents[name][idx] = new
            self._record({"boundary": sample.boundary, "rate": rate, "extent": new})

    def _record(self, change: dict[str, Any] | None) -> None:
        self.state.history.append({"iteration": self.state.iteration, "change": change,
                                   "extents": {k: list(v) for k, v in self.state.extents.items()}})

    def current_ranges(self) -> dict[str, dict[str, Any]]:
        """Physical current range of each factor: numeric {low, high}; choice {p_random}."""
        out: dict[str, dict[str, Any]] = {}
        for f in self.spec.factors:
            lo_ext, hi_ext = self.state.extents[f.name]
            if f.info.value_kind == ValueKind.CHOICE:
                out[f.name] = {"p_random": hi_ext, "nominal": f.nominal}
            else:
                lo, hi = factor_bounds(f, lo_ext, hi_ext)
                out[f.name] = {"low": lo.tolist(), "high": hi.tolist()}
        return out

    def to_dict(self) -> dict[str, Any]:
        return {"format": STATE_FORMAT, "version": STATE_VERSION, "spec": self.spec.to_dict(),
                "config": asdict(self.config), "state": asdict(self.state)}

    def save(self, path: str | Path) -> None:
        Path(path).write_text(json.dumps(self.to_dict(), indent=1), encoding="utf-8")

    @classmethod
    def from_dict(cls, d: Mapping[str, Any], feedback: Callable[[Any], bool] | None = None) -> "ADR":
        if d.get("format") != STATE_FORMAT or d.get("version") != STATE_VERSION:
            raise ADRError(f"format/version: expected {STATE_FORMAT} v{STATE_VERSION}, "
                           f"got {d.get('format')!r} v{d.get('version')!r}")
        spec = DRSpec.from_dict(d["spec"])
        return cls(spec, ADRConfig(**d["config"]), feedback, ADRState(**d["state"]))

    @classmethod
    def load(cls, path: str | Path, feedback: Callable[[Any], bool] | None = None) -> "ADR":
        return cls.from_dict(json.loads(Path(path).read_text(encoding="utf-8")), feedback)

    def plot_history(self, path_png: str | Path) -> Path:
        """Plot each factor's range (as signed extents: -low .. +high) over reported episodes."""
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        names = self.spec.factor_names
        fig, axes = plt.subplots(len(names), 1, figsize=(7, 1.3 * len(names) + 0.6), sharex=True, squeeze=False)
        final_iter = max(self.state.iteration, self.state.history[-1]["iteration"])
        its = [h["iteration"] for h in self.state.history] + [final_iter]
        for ax, name in zip(axes[:, 0], names):
            lows = [-h["extents"][name][0] for h in self.state.history]
            highs = [h["extents"][name][1] for h in self.state.history]
            lows.append(lows[-1])
            highs.append(highs[-1])
            ax.fill_between(its, lows, highs, step="post", alpha=0.4)
            ax.step(its, lows, where="post")
            ax.step(its, highs, where="post")
            ax.set_ylim(-1.05, 1.05)
            ax.set_ylabel(name, rotation=0, ha="right", fontsize=8)
        axes[-1, 0].set_xlabel("episodes reported")
        fig.suptitle("ADR ranges (fraction of hard range; 0 = nominal)")
        fig.tight_layout(rect=(0.0, 0.0, 1.0, 0.97))
        fig.savefig(path_png, dpi=80)
        plt.close(fig)
        return Path(path_png)
