"""`dexsim experiment sim2real`: the paper's Table 2 (section 5.1, appendix A.2) as one command.

From ONE seed skill in ONE scene it builds the datasets of the paper's four columns, trains the
same recipe on each and evaluates every policy under every domain gap as a fixed test condition:

==============  ================================================  =======================================
column          data                                              policy input
==============  ================================================  =======================================
``skills_only`` the nominal scene, DART noise on the skill        images (ACT)
``dr``          + AI and SA domain randomization (the task's       images (ACT)
                shipped DR spec, same skill noise)
``da``          the nominal data                                  domain adaptation: the object-centric
                                                                  masked point cloud (point-cloud diffusion)
``dexsim``      the DR data                                       the object-centric point cloud
==============  ================================================  =======================================

Why domain adaptation is the masked point cloud: the policy then never sees the pixels that light,
texture, background and distractors change (appendix A.2's appearance gaps), only the grasped
object's surface points in the robot's base frame (``dexsim_sim.episode.point_cloud``), which move
with object pose and shape as the action must; camera gaps move the points only through the
depth error of the moved camera. Pose-affordance keyposes are the data engine's symmetry-aware
retargeting (``KeyposeSkill.retarget``) in every column.

Rows: ``nominal`` (no gap), one per gap file (``dexsim_sim/config/gaps/<task>/*.yaml``: fixed
factors, low == high, outside every DR choice list where the paper's were), and, with a
``real_scene``, ``real2sim``: policies trained in the (projected) ``scene`` and tested in the
scene it was projected from. Each cell is ``trials`` closed-loop episodes on held-out seeds
(:func:`dexsim_sim.episode.eval_seed`), through the same controller as every evaluation.

Resumable: datasets (the generator resumes), runs (training resumes from ``latest/``) and every
finished cell (``cells/<column>__<row>.json``) are kept under ``out``; a killed run continues.
Parallel: cells run in ``workers`` processes (one torch thread each). Writes ``table.md`` (the
paper's layout: "k/n [lo-hi %]"), ``results.json`` and ``table.png`` (a heat map).
"""
from __future__ import annotations

import json
import math
import os
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any, Mapping

import yaml

from dexsim_sim.documents import DocumentError, read_document

COLUMNS = {  # column -> (data recipe, policy family)
    "skills_only": ("nominal", "act"),
    "dr": ("dr", "act"),
    "da": ("nominal", "pointcloud"),
    "dexsim": ("dr", "pointcloud"),
}
COLUMN_TITLES = {"skills_only": "Skills only", "dr": "+DR", "da": "+DA", "dexsim": "DexSim"}
FAMILIES = {"act": "act", "diffusion": "diffusion", "pointcloud": "pointcloud_diffusion"}
NOMINAL_ROW = "nominal"
REAL2SIM_ROW = "real2sim"
GENERATE_MARGIN = 1.15        # attempts per wanted demonstration (the physics check discards failures)
CELLS_DIR = "cells"
PROFILES: dict[str, dict[str, Any]] = {
    # CI: a complete, well-formed table in minutes (never the ordering)
    "quick": {"demos": 3, "steps": 4, "trials": 5, "image_size": (48, 64), "batch_size": 8, "episode_s": 2.0},
    "full": {},
}


class ExperimentError(ValueError):
    """A malformed experiment config, or a stage that cannot run."""


@dataclass(frozen=True)
class ExperimentConfig:
    """What the experiment runs (YAML: the same field names; unknown fields are refused)."""

    robot: str = "wx250s"
    task: str = "grasp"
    scene: str = ""                     # '' = the task's default scene for the robot
    real_scene: str = ""                # the "real" scene of the Real2Sim row ('' = no such row)
    columns: tuple[str, ...] = tuple(COLUMNS)
    policies: Mapping[str, str] = field(default_factory=dict)   # column -> family override
    gaps: tuple[str, ...] = ()          # gap names under config/gaps/<task> or files; () = all shipped
    demos: int = 200
    steps: int = 3000
    batch_size: int = 32
    lr: float = 3e-4
    trials: int = 100
    image_size: tuple[int, int] = (96, 128)
    episode_s: float = 0.0              # sim s per trial; 0 = the evaluation's default for the dataset
    workers: int = 2
    seed: int = 0

    def __post_init__(self) -> None:
        unknown = [c for c in self.columns if c not in COLUMNS]
        if unknown or not self.columns:
            raise ExperimentError(f"columns: expected some of {list(COLUMNS)}, got {list(self.columns)}")
        bad = {k: v for k, v in dict(self.policies).items() if k not in COLUMNS or v not in FAMILIES}
        if bad:
            raise ExperimentError(f"policies: expected column -> one of {list(FAMILIES)}, got {bad}")
        for key in ("demos", "steps", "batch_size", "trials", "workers"):
            v = getattr(self, key)
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise ExperimentError(f"{key}: expected an integer >= 1, got {v!r}")
        if isinstance(self.seed, bool) or not isinstance(self.seed, int) or self.seed < 0:
            raise ExperimentError(f"seed: expected an integer >= 0, got {self.seed!r}")
        if len(self.image_size) != 2 or any(not isinstance(v, int) or v < 8 for v in self.image_size):
            raise ExperimentError(f"image_size: expected [H, W] integers >= 8, got {list(self.image_size)}")
        if not (math.isfinite(self.episode_s) and self.episode_s >= 0 and math.isfinite(self.lr) and self.lr > 0):
            raise ExperimentError(f"episode_s / lr: expected >= 0 / > 0, got {self.episode_s} / {self.lr}")
        object.__setattr__(self, "columns", tuple(self.columns))
        object.__setattr__(self, "gaps", tuple(self.gaps))
        object.__setattr__(self, "image_size", tuple(self.image_size))
        object.__setattr__(self, "policies", dict(self.policies))

    @classmethod
    def from_dict(cls, d: Mapping[str, Any], profile: str = "full") -> "ExperimentConfig":
        if not isinstance(d, Mapping):
            raise ExperimentError(f"config: expected a mapping, got {type(d).__name__}")
        names = {f.name for f in fields(cls)}
        unknown = sorted(set(d) - names)
        if unknown:
            raise ExperimentError(f"config: unknown field(s) {unknown}; known: {sorted(names)}")
        if profile not in PROFILES:
            raise ExperimentError(f"profile: expected one of {list(PROFILES)}, got {profile!r}")
        try:
            return cls(**{**PROFILES[profile], **dict(d)})
        except TypeError as exc:
            raise ExperimentError(f"config: {exc}") from None

    @classmethod
    def load(cls, path: str | Path | None, profile: str = "full", **overrides) -> "ExperimentConfig":
        data: dict = {}
        if path:
            try:
                data = read_document(path, what="--config") or {}
            except DocumentError as exc:
                raise ExperimentError(str(exc)) from None
        return cls.from_dict({**data, **{k: v for k, v in overrides.items() if v is not None}}, profile)

    def family(self, column: str) -> str:
        return self.policies.get(column, COLUMNS[column][1])

    def to_dict(self) -> dict:
        d = asdict(self)
        d.update(columns=list(self.columns), gaps=list(self.gaps), image_size=list(self.image_size))
        return d


def gap_files(task: str, names: tuple[str, ...] = ()) -> dict[str, Path]:
    """Row name -> gap spec file: the shipped gaps of ``task`` (all, or those named), or paths."""
    from dexsim_sim.scaling.dr import CONFIG_DIR

    shipped = {p.stem: p for p in sorted((CONFIG_DIR / "gaps" / task).glob("*.yaml"))}
    if not names:
        if not shipped:
            raise ExperimentError(f"gaps: no shipped gap files for task {task!r} (give gap spec files)")
        return shipped
    out = {}
    for name in names:
        path = Path(name)
        if name in shipped:
            out[name] = shipped[name]
        elif path.is_file():
            out[path.stem] = path
        else:
            raise ExperimentError(f"gaps: {name!r} is neither a shipped gap of {task!r} ({sorted(shipped)}) nor a file")
    return out


def data_spec(task: str, recipe: str):
    """The DR spec of a data recipe: ``nominal`` (no factors, the task's DART skill noise) or ``dr``
    (the task's shipped AI + SA factors with the same skill noise)."""
    from dexsim_sim.scaling.dr import load_dr_spec

    nominal = load_dr_spec(f"nominal/{task}")
    if recipe == "nominal":
        return nominal
    return replace(load_dr_spec(task), name=f"{task}_dr_with_skill_noise", skill_noise=nominal.skill_noise)


class Experiment:
    """The stages of one experiment under ``out`` (see the module doc); each stage skips what exists."""

    def __init__(self, config: ExperimentConfig, out: str | Path, progress: bool = True) -> None:
        self.config = config
        self.out = Path(out)
        self.progress = progress
        self.rows = {NOMINAL_ROW: None, **{k: str(v) for k, v in gap_files(config.task, config.gaps).items()}}
        if config.real_scene:
            if not Path(config.real_scene).is_file():
                raise ExperimentError(f"real_scene: no such scene file {config.real_scene!r}")
            self.rows[REAL2SIM_ROW] = None
        if config.scene and not Path(config.scene).is_file():
            raise ExperimentError(f"scene: no such scene file {config.scene!r}")

    # ------------------------------------------------------------------ stages
    def run(self) -> dict:
        self.out.mkdir(parents=True, exist_ok=True)
        (self.out / "config.yaml").write_text(yaml.safe_dump(self.config.to_dict(), sort_keys=False))
        t0 = time.perf_counter()
        data = self.stage_data()
        runs = self.stage_train(data)
        self.stage_cells(runs)
        report = self.stage_report()
        report["wall_s"] = round(time.perf_counter() - t0, 1)
        (self.out / "results.json").write_text(json.dumps(report, indent=1, sort_keys=True))
        return report

    def stage_data(self) -> dict[str, Path]:
        """One dataset per data recipe the columns need (generated until ``demos`` verified ones)."""
        from dexsim_sim.scaling.generate import generate

        from .data import list_episodes

        cfg = self.config
        out = {}
        for recipe in dict.fromkeys(COLUMNS[c][0] for c in cfg.columns):
            path = self.out / "data" / recipe
            have = len(list_episodes(path)) if (path / "card.json").is_file() else 0
            attempts = max(int(math.ceil(cfg.demos * GENERATE_MARGIN)), cfg.demos)
            while have < cfg.demos:
                generate(cfg.robot, cfg.task, data_spec(cfg.task, recipe), attempts, path, workers=cfg.workers,
                         seed=cfg.seed, image_size=cfg.image_size, scene=cfg.scene or None, progress=self.progress)
                now = len(list_episodes(path))
                if now == have and attempts > 4 * cfg.demos:
                    raise ExperimentError(f"data {recipe}: {now} verified episodes after {attempts} attempts")
                have, attempts = now, int(math.ceil(attempts * GENERATE_MARGIN)) + 1
            out[recipe] = path
        return out

    def stage_train(self, data: dict[str, Path]) -> dict[str, Path]:
        """One run per column: the column's family, the shipped recipe, the first ``demos`` episodes."""
        from .models import make_config
        from .train import TrainConfig, train

        cfg = self.config
        runs = {}
        for column in cfg.columns:
            run = self.out / "runs" / column
            done = run / "train_summary.json"
            if not done.is_file():
                model = make_config(FAMILIES[cfg.family(column)], image_size=cfg.image_size)
                tc = TrainConfig(steps=cfg.steps, batch_size=cfg.batch_size, lr=cfg.lr, seed=cfg.seed,
                                 max_episodes=cfg.demos, val_every=max(cfg.steps // 10, 1),
                                 warmup_steps=min(200, cfg.steps // 10), progress=self.progress)
                summary = train(data[COLUMNS[column][0]], model, run, config=tc)
                done.write_text(json.dumps(summary, indent=1, sort_keys=True, default=str))
            runs[column] = run / "best"
        return runs

    def cell_path(self, column: str, row: str) -> Path:
        return self.out / CELLS_DIR / f"{column}__{row}.json"

    def stage_cells(self, runs: dict[str, Path]) -> None:
        """Every (column, row) cell not yet on disk, in ``workers`` processes."""
        cfg = self.config
        todo = [(c, r) for c in cfg.columns for r in self.rows if not self.cell_path(c, r).is_file()]
        (self.out / CELLS_DIR).mkdir(parents=True, exist_ok=True)
        jobs = [dict(checkpoint=str(runs[c]), row=r, gap=self.rows[r],
                     scene=cfg.real_scene if r == REAL2SIM_ROW else "", trials=cfg.trials, seed=cfg.seed,
                     episode_s=cfg.episode_s, out=str(self.cell_path(c, r))) for c, r in todo]
        if not jobs:
            return
        bar = _progress(len(jobs), "cells") if self.progress else None
        if cfg.workers == 1 or len(jobs) == 1:
            for job in jobs:
                run_cell(**job)
                bar and bar.update(1)
        else:
            import multiprocessing

            with ProcessPoolExecutor(max_workers=min(cfg.workers, len(jobs)),
                                     mp_context=multiprocessing.get_context("spawn")) as pool:
                for future in [pool.submit(run_cell, **job) for job in jobs]:
                    future.result()
                    bar and bar.update(1)
        bar and bar.close()

    def stage_report(self) -> dict:
        cfg = self.config
        cells = {c: {r: json.loads(self.cell_path(c, r).read_text()) for r in self.rows} for c in cfg.columns}
        report = {"config": cfg.to_dict(), "rows": list(self.rows), "columns": list(cfg.columns),
                  "families": {c: cfg.family(c) for c in cfg.columns}, "cells": cells,
                  "eval_seeds": f"dexsim_sim.episode.eval_seed({cfg.seed}, 0..{cfg.trials - 1})"}
        (self.out / "table.md").write_text(render_table(report))
        plot_table(report, self.out / "table.png")
        report.update(table=str(self.out / "table.md"), plot=str(self.out / "table.png"))
        return report


def _progress(total: int, desc: str):
    from tqdm import tqdm

    return tqdm(total=total, desc=desc, unit="cell")


def run_cell(checkpoint: str, row: str, gap: str | None, scene: str, trials: int, seed: int, episode_s: float,
             out: str) -> dict:
    """One cell: ``trials`` held-out episodes of ``checkpoint`` under the fixed ``gap`` (None: the
    nominal task) or in ``scene``; written to ``out`` atomically (a finished cell is never redone)."""
    import torch

    from .evaluation import evaluate_in_process

    torch.set_num_threads(1)
    ev = evaluate_in_process(checkpoint, episodes=trials, spec=gap, seed=seed, nominal=gap is None,
                             episode_s=episode_s or None, scene_file=scene or None)
    (cond,) = ev["conditions"].values()
    cell = {"row": row, "gap": gap, "scene": scene or ev.get("scene_file", ""), "checkpoint": checkpoint,
            "successes": cond["successes"], "trials": cond["rated"], "success_rate": cond["success_rate"],
            "ci95": cond["ci95"], "wall_s": round(ev["wall_s"], 1),
            "successes_by_seed": [bool(e["success"]) for e in ev["episodes"]],
            "seeds": [int(e["seed"]) for e in ev["episodes"]]}
    tmp = Path(out).with_suffix(".tmp")
    tmp.write_text(json.dumps(cell, indent=1, sort_keys=True))
    os.replace(tmp, out)
    return cell


def render_table(report: dict) -> str:
    """The paper's Table 2 layout: a row per gap, a column per dataset, "k/n [lo-hi %]"."""
    cols = report["columns"]
    head = "| domain gap | " + " | ".join(f"{COLUMN_TITLES[c]} ({report['families'][c]})" for c in cols) + " |"
    lines = [head, "|---|" + "---|" * len(cols)]
    for row in report["rows"]:
        cells = []
        for c in cols:
            cell = report["cells"][c][row]
            lo, hi = cell["ci95"] or (0.0, 0.0)
            cells.append(f"{cell['successes']}/{cell['trials']} [{100 * lo:.0f}-{100 * hi:.0f} %]")
        lines.append(f"| {row} | " + " | ".join(cells) + " |")
    cfg = report["config"]
    lines += ["", f"{cfg['robot']} {cfg['task']}: {cfg['demos']} demonstrations per dataset, {cfg['steps']} training "
              f"steps, {cfg['trials']} trials per cell on held-out seeds ({report['eval_seeds']}); "
              "Wilson 95 % intervals."]
    return "\n".join(lines) + "\n"


def plot_table(report: dict, path: Path) -> Path:
    """A heat map of success rates (rows: gaps, columns: datasets), each cell labelled k/n."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    rows, cols = report["rows"], report["columns"]
    rate = np.array([[report["cells"][c][r]["success_rate"] or 0.0 for c in cols] for r in rows])
    fig, ax = plt.subplots(figsize=(1.9 * len(cols) + 2.5, 0.45 * len(rows) + 1.6))
    im = ax.imshow(100 * rate, cmap="RdYlGn", vmin=0, vmax=100, aspect="auto")
    ax.set_xticks(range(len(cols)), [COLUMN_TITLES[c] for c in cols])
    ax.set_yticks(range(len(rows)), rows)
    for i, r in enumerate(rows):
        for j, c in enumerate(cols):
            cell = report["cells"][c][r]
            ax.text(j, i, f"{cell['successes']}/{cell['trials']}", ha="center", va="center", fontsize=9)
    fig.colorbar(im, ax=ax, label="closed-loop success (%)")
    cfg = report["config"]
    ax.set_title(f"Sim2Real gaps: {cfg['robot']} {cfg['task']}, {cfg['trials']} trials per cell")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return Path(path)


def run_experiment(config: ExperimentConfig, out: str | Path, progress: bool = True) -> dict:
    return Experiment(config, out, progress).run()
