"""Throughput of the data engine next to the renderer's own bound, measured in one run.

For each image size: successful grasp trajectories per core-minute of :func:`generate` (one worker =
one core), and the *render-bound* rate: the same number of stereo frames rendered in the same
scene with no physics, planning or writing, converted to trajectories per core-minute. Their ratio
(<= 1) is the share of generation time the renderer accounts for. ``speedup_2_workers`` is the wall
time of 1 worker over 2 workers for the same episodes at 128x128 (process start-up included, so short
runs understate it).
"""
from __future__ import annotations

import tempfile
import time
from pathlib import Path

from ..tasks.grasp import GraspTask
from ..world.builder import World
from .generate import generate

BENCH_SIZES = ((512, 640), (128, 128))       # (H, W)
SPEEDUP_SIZE = (128, 128)


def _size_key(size: tuple[int, int]) -> str:
    return f"{size[1]}x{size[0]}"             # W x H, as the paper writes 640x512


def _render_seconds(robot: str, size: tuple[int, int], frames: int, renderer: str) -> tuple[float, str]:
    """Seconds to render ``frames`` stereo pairs (RGB + depth + seg, both cameras) of the task scene."""
    world = World.build(GraspTask.scene_path(robot), renderer=renderer, image_size=size)
    try:
        world.render()                         # warm-up (textures, EGL context)
        t0 = time.perf_counter()
        for _ in range(frames):
            world.render()
        return time.perf_counter() - t0, world.renderer
    finally:
        world.close()


def bench_generate(episodes: int = 3, robot: str = "sr3", renderer: str = "auto", sizes=BENCH_SIZES,
                   speedup_episodes: int = 4, out_dir: str | Path | None = None) -> dict:
    """Measured rates (see module doc) as a flat dict; extra keys give the raw counts and seconds."""
    result: dict = {"robot": robot, "task": "grasp", "episodes": episodes}
    with tempfile.TemporaryDirectory(prefix="dexsim_bench_") as tmp:
        root = Path(out_dir) if out_dir is not None else Path(tmp)
        for size in sizes:
            key = _size_key(size)
            t0 = time.perf_counter()
            card = generate(robot, "grasp", None, episodes, root / f"gen_{key}", image_size=size, renderer=renderer,
                            seed=0, progress=False)
            wall = time.perf_counter() - t0
            render_s, used = _render_seconds(robot, size, card.num_steps, renderer)
            traj_rate = card.num_episodes / (wall / 60.0)
            render_rate = card.num_episodes / (render_s / 60.0) if render_s > 0 else float("inf")
            result.update({f"traj_per_core_min_{key}": traj_rate, f"render_bound_traj_per_core_min_{key}": render_rate,
                           f"ratio_{key}": traj_rate / render_rate, f"successes_{key}": card.num_episodes,
                           f"steps_{key}": card.num_steps, f"wall_s_{key}": wall, f"render_s_{key}": render_s,
                           "renderer": used})
        walls = []
        for workers in (1, 2):
            t0 = time.perf_counter()
            generate(robot, "grasp", None, speedup_episodes, root / f"speedup_{workers}", workers=workers,
                     image_size=SPEEDUP_SIZE, renderer=renderer, seed=1, progress=False)
            walls.append(time.perf_counter() - t0)
        result.update(speedup_2_workers=walls[0] / walls[1], speedup_wall_s=walls)
    return result
