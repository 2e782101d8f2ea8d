"""Real data in, policy out: the Real2Sim -> Sim2Real job `dexsim real2sim` runs (ROS-free).

From what a user brings (:class:`dexsim_sim.projection.pipeline.RealInputs`: a stereo pair of the
table, its camera info and pose, a hand track of the demonstration) it

1. **projects** the scene (the robot's own pixels masked; the object the hand grasps becomes the
   ``target``) and the demonstration (gripper key poses in the robot base frame);
2. makes the **seed skill**: the demonstration's grasp and the top of its lift, in the target's
   frame (``dexsim_sim.skills.seed``), and **replays** it once in the projected scene, physics-
   checked, with a strip of what the camera saw (a skill that cannot work stops the job here, with
   the reason, before anything is generated);
3. **scales** it: ``episodes`` seeded, physics-verified demonstrations in the projected scene with
   the nominal spec (the task's placement randomization and DART noise on the skill);
4. optionally **trains** a policy with the shipped recipe and rates it in process on held-out seeds;
5. writes a **summary page** (``summary.md`` + PNGs: the projection overlay, the retargeted path on
   the image and in 3-D, the replay strip, the dataset's frame grid, the loss curve and success).

`dexsim demo`'s project and generate stages call :func:`generation_scene` and :func:`seed_skill`,
so the demo is this same chain on the bundled inputs. The task is grasp-and-lift (what a projected
pick demonstration teaches); other tasks take a keypose-skill file through `dexsim generate --skill`.
"""
from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np

TASK = "grasp"
DATA_SPEC = "nominal/grasp"
DATA_IMAGE_HW = (96, 128)
REPLAY_SEED = 0                  # the replay runs the data engine's first training seed
REPLAY_STRIP_FRAMES = 6
SUMMARY_FILE = "summary.md"


class Real2SimError(ValueError):
    """A step of the job that cannot go on with these inputs; the message names the problem."""


def generation_scene(projected_scene: str | Path, out: Path) -> Path:
    """The projected scene with its grasped object (role target) named as the DR spec expects."""
    from dexsim_sim.skills.seed import GENERATION_SCENE_FILE, scene_with_target

    return scene_with_target(projected_scene, out / GENERATION_SCENE_FILE)


def seed_skill(robot: str, scene: Path, keyposes_file: str | Path):
    """The projected demonstration as a grasp seed skill anchored to the scene's target."""
    from dexsim_sim.skills.seed import load_seed_skill

    return load_seed_skill(keyposes_file, robot, TASK, scene)


def replay(robot: str, scene: Path, skill, out: Path, image_hw=DATA_IMAGE_HW) -> dict:
    """Execute ``skill`` once in ``scene`` as the data engine does (training seed REPLAY_SEED, nominal
    spec, physics check); write a strip of left-camera frames. Raises Real2SimError when it fails."""
    from dexsim_sim.episode import train_seed
    from dexsim_sim.scaling.dr import DRSampler, load_dr_spec
    from dexsim_sim.scaling.generate import EpisodeRunner
    from dexsim_sim.viz import save_rgb_png

    spec = load_dr_spec(DATA_SPEC)
    seed = train_seed(0, REPLAY_SEED)
    runner = EpisodeRunner(robot, TASK, spec.to_dict(), tuple(image_hw), skill=skill.to_dict(), scene=str(scene))
    try:
        result = runner.run(0, seed, DRSampler(spec).sample(seed).to_dict())
    finally:
        runner.close()
    if not result.success:
        raise Real2SimError(f"the projected demonstration fails in simulation ({result.reason}: {result.detail}); "
                            "check the camera pose and the hand track")
    frames = result.episode.obs["left_rgb"]
    pick = np.linspace(0, len(frames) - 1, REPLAY_STRIP_FRAMES).round().astype(int)
    strip = save_rgb_png(np.concatenate([frames[i] for i in pick], axis=1), out / "replay_strip.png")
    info = result.episode.extra.get("task_info", {})
    return {"success": True, "seed": seed, "steps": int(len(result.episode.actions)), "replay_strip_png": str(strip),
            "lift_height_m": info.get("lift_height")}


def plot_path_3d(keyposes_file: str | Path, path: Path) -> Path:
    """The retargeted gripper path in the robot base frame (open blue, closed red) with its key poses."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from dexsim_sim.projection.retarget import load_keyposes

    seq = load_keyposes(keyposes_file)
    xyz, closed = seq.dense_poses[:, :3], np.asarray(seq.dense_closed, bool)
    fig = plt.figure(figsize=(5, 4.5))
    ax = fig.add_subplot(projection="3d")
    for mask, color, label in ((~closed, "tab:blue", "open"), (closed, "tab:red", "closed")):
        ax.scatter(*xyz[mask].T, s=4, c=color, label=label)
    for name, pose in zip(seq.labels, seq.poses):
        ax.scatter(*pose[:3], s=30, c="green")
        ax.text(*pose[:3], f" {name}", fontsize=8)
    ax.set_xlabel("x (m)")
    ax.set_ylabel("y (m)")
    ax.set_zlabel("z (m)")
    ax.set_title("retargeted gripper path (robot base frame)")
    ax.legend(loc="upper left", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def plot_success(successes: int, episodes: int, ci: tuple[float, float], label: str, path: Path) -> Path:
    """A bar of the held-out success rate with its Wilson 95% interval."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rate = successes / max(episodes, 1)
    fig, ax = plt.subplots(figsize=(3.6, 3.2))
    ax.bar([0], [rate], color="tab:green", width=0.5)
    ax.errorbar([0], [rate], yerr=[[rate - ci[0]], [ci[1] - rate]], color="k", capsize=6)
    ax.set_xticks([0], [label])
    ax.set_ylim(0, 1)
    ax.set_ylabel("closed-loop success (held-out seeds)")
    ax.set_title(f"{successes}/{episodes} = {rate:.0%} (95% CI {ci[0]:.0%}-{ci[1]:.0%})", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def run(inputs, out_dir: str | Path, episodes: int = 50, workers: int = 1, image_hw=DATA_IMAGE_HW,
        policy: str | None = None, train_steps: int | None = None, eval_episodes: int = 20,
        threads: int = 2, progress: bool = True) -> dict:
    """The whole job (module doc) into ``out_dir``; returns the summary (also ``summary.json``)."""
    from dexsim_sim.projection.pipeline import project_real_inputs
    from dexsim_sim.scaling.generate import generate

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    summary: dict = {"robot": inputs.robot, "task": TASK, "stages": {}}
    t0 = time.monotonic()
    projected, _, _ = project_real_inputs(inputs, out / "project")
    summary["stages"]["project"] = projected
    _say(f"projected: {len(projected['objects'])} object(s), target {projected['target']!r}, "
                   f"keyposes {projected['keypose_labels']}, {projected['robot_pixels_masked']} robot pixels masked")
    scene = generation_scene(projected["scene_file"], out / "generate")
    skill = seed_skill(inputs.robot, scene, projected["keyposes_file"])
    path3d = plot_path_3d(projected["keyposes_file"], out / "project" / "keyposes_path_3d.png")
    checked = replay(inputs.robot, scene, skill, out / "generate", image_hw)
    checked["path_3d_png"] = str(path3d)
    summary["stages"]["replay"] = checked
    _say(f"replayed in simulation: success, lift {checked['lift_height_m']:.3f} m, {checked['steps']} steps")
    dataset = out / "generate" / "dataset"
    card = generate(inputs.robot, TASK, DATA_SPEC, episodes, dataset, workers=workers, seed=0,
                    image_size=tuple(image_hw), skill=skill, scene=scene, progress=progress)
    summary["stages"]["generate"] = {"dataset": str(dataset), "spec": DATA_SPEC, "episodes_attempted": episodes,
                                     "episodes_written": card.num_episodes,
                                     "failures": card.extra.get("failures", {}),
                                     "frame_grid_png": str(dataset / "frames.png")}
    _say(f"scaled: {card.num_episodes} of {episodes} demonstrations verified")
    if policy:
        summary["stages"]["train"] = _train_and_rate(dataset, policy, out / "train", scene, train_steps,
                                                     eval_episodes, threads, progress)
    summary["wall_s"] = round(time.monotonic() - t0, 1)
    (out / "summary.json").write_text(json.dumps(summary, indent=2, default=str))
    write_summary_page(summary, out)
    return summary


def _train_and_rate(dataset: Path, policy: str, run: Path, scene: Path, steps: int | None, eval_episodes: int,
                    threads: int, progress: bool) -> dict:
    import torch

    from dexsim_policy.evaluation import evaluate_in_process
    from dexsim_policy.models import make_config
    from dexsim_policy.train import TrainConfig, train

    from .cli.train import DEFAULTS, POLICIES

    if policy not in POLICIES:
        raise Real2SimError(f"policy: expected one of {sorted(POLICIES)}, got {policy!r}")
    torch.set_num_threads(threads)
    fields = dict(DEFAULTS, progress=progress)
    if steps is not None:
        fields.update(steps=steps, warmup_steps=min(200, max(steps // 5, 0)), val_every=max(steps // 4, 1))
    result = train(dataset, make_config(POLICIES[policy]), run, config=TrainConfig(**fields))
    rated = evaluate_in_process(run / "best", episodes=eval_episodes, scene_file=scene, progress=progress)
    nominal = rated["conditions"]["nominal"]
    ci = tuple(nominal["ci95"])
    png = plot_success(nominal["successes"], nominal["rated"], ci, f"{policy}, in process", run / "success.png")
    _say(f"trained {policy} ({result['steps']} steps); held-out seeds in process: "
                   f"{nominal['successes']}/{nominal['rated']} (95% CI {ci[0]:.0%}-{ci[1]:.0%})")
    return {"policy": policy, "checkpoint": str(run / "best"), "steps": result["steps"],
            "train_samples_per_s": result.get("train_samples_per_s"), "loss_curve_png": str(run / "loss_curve.png"),
            "successes": nominal["successes"], "episodes": nominal["rated"], "ci95": list(ci),
            "success_png": str(png)}


def write_summary_page(summary: dict, out: Path) -> Path:
    """``summary.md``: what went in, what came out, and the pictures (paths relative to ``out``)."""
    def rel(p) -> str:
        try:
            return str(Path(p).resolve().relative_to(out.resolve()))
        except ValueError:
            return str(p)

    st = summary["stages"]
    proj, rep, gen = st["project"], st["replay"], st["generate"]
    lines = [f"# Real2Sim -> Sim2Real: {summary['robot']} {summary['task']}", "",
             "## 1. Projection (Real2Sim)", "",
             f"- scene: `{rel(proj['scene_file'])}`: objects {', '.join(proj['objects'])}; the grasped one "
             f"(`{proj['target']}`) is the target; {proj['robot_pixels_masked']} pixels of the robot masked",
             f"- demonstration: `{rel(proj['keyposes_file'])}`: key poses {', '.join(proj['keypose_labels'])}", "",
             f"![projection overlay]({rel(proj['overlays'][0])})", "",
             f"![retargeted path]({rel(proj['overlays'][1])}) ![path in 3-D]({rel(rep['path_3d_png'])})", "",
             "## 2. The projected skill in simulation", "",
             f"Replayed on training seed {rep['seed']} and physics-checked: success, lift "
             f"{rep['lift_height_m']:.3f} m in {rep['steps']} steps.", "",
             f"![replay]({rel(rep['replay_strip_png'])})", "",
             "## 3. Scaled data", "",
             f"`{rel(gen['dataset'])}` ({gen['spec']}): **{gen['episodes_written']} of {gen['episodes_attempted']}** "
             f"demonstrations physics-verified; failures by reason: {gen['failures'] or 'none'}.", "",
             f"![frames]({rel(gen['frame_grid_png'])})", ""]
    if "train" in st:
        tr = st["train"]
        lo, hi = tr["ci95"]
        lines += ["## 4. Policy", "",
                  f"{tr['policy']} trained {tr['steps']} steps (`{rel(tr['checkpoint'])}`); closed-loop success on "
                  f"held-out seeds in process: **{tr['successes']}/{tr['episodes']}** (Wilson 95% {lo:.0%}-{hi:.0%}).",
                  "", f"![loss]({rel(tr['loss_curve_png'])}) ![success]({rel(tr['success_png'])})", ""]
    lines += [f"Wall time {summary.get('wall_s', 0):.0f} s. Every figure and path: `summary.json`."]
    path = out / SUMMARY_FILE
    path.write_text("\n".join(lines) + "\n")
    return path


def _say(text: str) -> None:
    """A result line (always printed; ``progress`` only switches the bars)."""
    print(f"real2sim: {text}", flush=True)
