"""`dexsim bench learn`: how closed-loop success grows with the number of demonstrations.

For each N in ``demos`` the shipped ACT recipe is trained by :func:`~dexsim_policy.train.train` on
the first N episodes of one dataset (generated here from the task's nominal spec, with DART skill
noise, unless ``data`` is given) and evaluated in process on ``episodes`` held-out seeds
(:func:`~dexsim_sim.episode.eval_seed`, never a training seed). Reported per N: successes, rate,
Wilson 95 % interval, training wall time and samples/s; a PNG of the curve.

Resumable: the dataset, each N's run directory (training resumes from ``latest/``) and each
finished N's ``learn_result.json`` are kept under ``work``; a killed run continues where it stopped.
"""
from __future__ import annotations

import json
import math
import time
from dataclasses import asdict
from pathlib import Path
from typing import Sequence

DEFAULT_DEMOS = (25, 50, 100, 200)
DEFAULT_EPISODES = 50
DEFAULT_STEPS = 3000
GENERATE_MARGIN = 1.15        # attempts per wanted demonstration (the physics check discards failures)
RESULT_FILE = "learn_result.json"
PLOT_FILE = "learning_curve.png"


def bench_learn(work: str | Path = "out/bench_learn", *, data: str | Path | None = None, robot: str = "wx250s",
                task: str = "grasp", demos: Sequence[int] = DEFAULT_DEMOS, episodes: int = DEFAULT_EPISODES,
                steps: int = DEFAULT_STEPS, image_size: tuple[int, int] = (96, 128), seed: int = 0,
                progress: bool = True) -> dict:
    from dexsim_sim.scaling.generate import generate

    from .data import list_episodes
    from .evaluation import evaluate_in_process
    from .models import ACTConfig
    from .train import TrainConfig, train

    work = Path(work)
    work.mkdir(parents=True, exist_ok=True)
    demos = sorted({int(n) for n in demos})
    if not demos or demos[0] < 1:
        raise ValueError(f"demos: expected positive counts, got {demos}")
    if data is None:
        data = work / "data"
        have = len(list_episodes(data)) if (data / "card.json").is_file() else 0
        attempts = int(math.ceil(demos[-1] * GENERATE_MARGIN))
        while have < demos[-1]:
            generate(robot, task, f"nominal/{task}", attempts, data, image_size=image_size, seed=seed,
                     progress=progress)
            have = len(list_episodes(data))
            attempts = int(math.ceil(attempts * GENERATE_MARGIN)) + 1
    available = len(list_episodes(data))
    points = []
    for n in demos:
        if n > available:
            raise ValueError(f"demos: {n} requested, the dataset {data} holds {available} episodes")
        run = work / f"act_{n}"
        result_path = run / RESULT_FILE
        if result_path.is_file():
            points.append(json.loads(result_path.read_text()))
            continue
        config = TrainConfig(steps=steps, batch_size=32, lr=3e-4, max_episodes=n, seed=seed, progress=progress,
                             val_every=max(steps // 10, 1))
        t0 = time.perf_counter()
        summary = train(data, ACTConfig(image_size=tuple(image_size)), run, config=config)
        train_wall = time.perf_counter() - t0
        ev = evaluate_in_process(run / "best", episodes=episodes, seed=seed, progress=progress)
        c = ev["conditions"]["nominal"]
        point = {"demos": n, "successes": c["successes"], "episodes": c["rated"], "success_rate": c["success_rate"],
                 "ci95": c["ci95"], "train_wall_s": round(train_wall, 1),
                 "train_samples_per_s": summary["train_samples_per_s"], "steps": summary["steps"],
                 "eval_wall_s": round(ev["wall_s"], 1), "checkpoint": str(run / "best"),
                 "recipe": {"model": ACTConfig(image_size=tuple(image_size)).to_dict(), "train": asdict(config)}}
        result_path.write_text(json.dumps(point, indent=2, sort_keys=True))
        points.append(point)
    png = plot_learning_curve(points, work / PLOT_FILE, f"ACT on {robot} {task}")
    return {"benchmark": "learn", "robot": robot, "task": task, "data": str(data),
            "eval_seeds": f"dexsim_sim.episode.eval_seed({seed}, 0..{episodes - 1})", "points": points,
            "plot": str(png)}


def plot_learning_curve(points: list[dict], path: Path, title: str) -> Path:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    n = [p["demos"] for p in points]
    rate = [100 * p["success_rate"] for p in points]
    lo = [100 * (p["success_rate"] - p["ci95"][0]) for p in points]
    hi = [100 * (p["ci95"][1] - p["success_rate"]) for p in points]
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.errorbar(n, rate, yerr=[lo, hi], fmt="o-", capsize=4)
    ax.set_xscale("log")
    ax.set_xticks(n)
    ax.set_xticklabels([str(v) for v in n])
    ax.set_ylim(0, 105)
    ax.set_xlabel("demonstrations")
    ax.set_ylabel("closed-loop success on held-out seeds (%)")
    ax.set_title(f"{title} (95% Wilson intervals)")
    ax.grid(True, alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path
