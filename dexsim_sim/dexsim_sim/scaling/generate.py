"""The data engine: from a seed skill, a large, diverse, physics-verified, randomized dataset.

Per episode ``index`` (0 .. episodes-1) the episode seed is ``s = seed * SEED_STRIDE + index``
(SEED_STRIDE = 1_000_003, a prime, so runs with different base seeds never share an episode). With
``s`` alone the episode is regenerated:

1. the task resets with ``s`` (its own object placement), the world's DR state back at nominal;
2. a DR sample is drawn from ``(spec, s)`` (or from ADR's current ranges in ADR mode) and applied
   through :class:`~dexsim_sim.scaling.world_target.WorldTarget`: SA factors (object pose, scale,
   mass, friction), then AI factors (textures, light, camera, distractors);
3. the seed skill (object-frame key poses, :mod:`dexsim_sim.skills.keypose`) is re-targeted to the
   randomized objects (symmetry-aware) and re-planned (IK, joint interpolation, RRT-Connect if the
   straight transit collides with the table, objects or distractors);
4. the plan is executed in the physics (``DexSimEnv.step``), perturbed by the spec's
   ``skill_noise`` (DART: the recorded action stays the clean planned target), observations
   recorded every control step, and the task's ``evaluate()`` verifies success at the end.

Successes are written (obs per step, the 21-d action of docs/CONTRACTS.md per arm, the object-centric
point cloud of the task's objects, dones); failures are discarded and counted by reason
(``unreachable``, ``planning_failed``, ``physics_failed``) in the card's ``extra.failures`` and in
``failures.jsonl``. AI factors leave the robot's commands untouched: the joint, base-frame ee and
gripper columns of the actions are bit-identical to the nominal episode's (only the camera-frame
ee pose follows the randomized camera). SA factors change them.

Scale-out: ``workers=1`` runs in this process (no Ray). ``workers>1`` runs one environment per worker
process: locally by default spawned processes over pipes (nothing listens on any port); with
``backend="ray"`` or ``address=`` (a Ray cluster) one Ray actor per worker. Results are written in
seed order, so the dataset is the same for any worker count and backend. Local Ray
(:func:`init_local_ray`) has no dashboard, usage statistics off and its node address on 127.0.0.1,
but Ray 2.60's gRPC servers (GCS, raylet, every worker) still listen on all interfaces and offer no
option to change it, which is why it is not the local default.

Crash safety: shards are finalised atomically (``datasets.hdf5``); a killed run resumes from
``completed_seeds`` plus the recorded failures, and never writes a seed twice.
Episodes whose transit needed RRT-Connect are valid, but OMPL's random stream is per process, so only
straight-transit episodes are bit-identical across processes (``extra.replanned`` marks them).
"""
from __future__ import annotations

import json
import logging
import math
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np

from ..datasets.card import DatasetCard
from ..episode import DR_SETTLE_STEPS, MAX_BASE_SEED, SEED_STRIDE, point_cloud, settle, start_episode, task_objects, train_seed  # noqa: F401
from ..datasets.hdf5 import DatasetWriter, Episode, completed_seeds
from ..env import TASKS, DexSimEnv
from ..robots.kinematics import arm_chain
from ..robots.registry import UnknownRobotError, get_robot
from ..robots.transforms import matrix_to_pose
from ..skills.keypose import KeyposeSkill, PlanConfig, SkillError, plan_joint_actions, skill_for_task
from .adr import ADR, ADRConfig
from ..world.scene import SceneError, load_scene
from .dr import CONFIG_DIR, DRSample, DRSampler, DRSpec, DRSpecError, check_targets, load_dr_spec
from .world_target import WorldTarget

SKILL_CAPTURE_SEED = 0           # env reset seed of the episode the seed skill is captured in
MAX_EPISODE_STEPS = 100_000      # the env's truncation is not used here
MAX_EPISODES = 10_000_000        # one request: beyond this it is a typo (the paper's largest set is 2000)
MAX_WORKERS = 1024
MAX_IMAGE_SIDE = 4096            # px
LOG = logging.getLogger(__name__)
MAX_WORKER_RESTARTS = 3          # dead generation workers replaced per run before giving up
IN_FLIGHT_PER_WORKER = 2         # episodes queued per Ray actor
ADR_ROUND = 8                    # ADR mode: episodes drawn per round from one ADR state
BACKENDS = ("process", "ray")
FAILURES_FILE = "failures.jsonl"
ADR_STATE_FILE = "adr_state.json"
ADR_PLOT_FILE = "adr_ranges.png"
FRAME_GRID_FILE = "frames.png"
FRAME_GRID_COLUMNS = 4
FRAME_GRID_MAX = 16
POSE_NAMES = ("x", "y", "z", "qx", "qy", "qz", "qw")


class GenerateError(RuntimeError):
    """A generation request that cannot run (unknown robot/task, bad spec, unwritable output)."""


def episode_seed(seed: int, index: int) -> int:
    return train_seed(seed, index)


@dataclass(frozen=True)
class GenerateProgress:
    """Counts so far: ``done`` episodes finished (successes + failures), ``failed`` of them failed."""

    done: int
    failed: int
    total: int
    rate_per_min: float


@dataclass
class EpisodeResult:
    index: int
    seed: int
    success: bool
    reason: str = ""
    detail: str = ""
    episode: Episode | None = None
    sample: dict[str, Any] = field(default_factory=dict)


def action_names(robot) -> list[str]:
    """21 per arm: joint targets | ee pose (base) | gripper | ee pose (left camera optical frame)."""
    names = []
    for arm in robot.arms:
        pre = f"{arm.name}/" if len(robot.arms) > 1 else ""
        names += [f"{pre}joint_target/{j}" for j in arm.joints] + [f"{pre}ee_base/{n}" for n in POSE_NAMES]
        names += [f"{pre}gripper"] + [f"{pre}ee_camera/{n}" for n in POSE_NAMES]
    return names


class EpisodeRunner:
    """One environment (and its DR target) that runs episodes; in-process or as a Ray actor."""

    def __init__(self, robot: str, task: str, spec: dict, image_size: tuple[int, int], renderer: str = "auto",
                 control_hz: float = 10.0, skill: dict | None = None, scene: str | None = None) -> None:
        self.env = DexSimEnv(task=task, robot=robot, scene=scene, image_size=tuple(image_size), renderer=renderer,
                             control_hz=control_hz, max_episode_steps=MAX_EPISODE_STEPS)
        self.world = self.env.world
        self.target = WorldTarget(self.world)
        self.spec = DRSpec.from_dict(spec)
        self.plan_config = PlanConfig(control_hz=control_hz)
        self.robot = self.world.robot.spec
        self.chains = [arm_chain(self.robot, arm.name) for arm in self.robot.arms]
        index = {j: i for i, j in enumerate(self.robot.arm_joints)}
        self.arm_cols = [[index[j] for j in arm.joints] for arm in self.robot.arms]
        self.action_names = action_names(self.robot)
        self._q_low = np.array([self.robot.limits[j].lower for j in self.robot.arm_joints])
        self._q_high = np.array([self.robot.limits[j].upper for j in self.robot.arm_joints])
        if skill is None:
            self.target.reset_dr()
            self.env.reset(seed=SKILL_CAPTURE_SEED, options={"observe": False})
            self.skill = skill_for_task(self.env.task)
        else:
            self.skill = KeyposeSkill.from_dict(skill)

    def skill_dict(self) -> dict:
        return self.skill.to_dict()

    def renderer(self) -> str:
        return self.world.renderer

    def run(self, index: int, seed: int, sample: dict) -> EpisodeResult:
        """Reset with ``seed``, apply ``sample``, re-plan the skill, execute and verify."""
        world, env = self.world, self.env
        start_episode(env, self.target, seed, self.spec, DRSample.from_dict(sample))
        noise_spec = self.spec.skill_noise
        if noise_spec is not None and noise_spec.moves_start:      # start away from home (see SkillNoise)
            q0, _ = world.joint_states()
            q0 = np.clip(q0 + noise_spec.start_offsets(seed, q0, self.chains, self.arm_cols), self._q_low, self._q_high)
            world.set_robot_joints(q0, 0.0)
        # plan from the poses as applied, before any physics: AI factors cannot reach the plan
        obstacles = [world.table] + [h.body for h in world.objects.values()] + self.target.distractor_bodies
        try:
            plan = plan_joint_actions(world, self.skill, self.plan_config, obstacles)
        except SkillError as exc:
            return EpisodeResult(index, seed, False, exc.reason, exc.detail, sample=sample)
        settle(world)
        names = task_objects(env.task)
        frames = [self._observe(seed, names)]
        actions = []
        noise = (self.spec.skill_noise.joint_offsets(seed, plan.q, self.chains, self.arm_cols) if self.spec.skill_noise
                 else np.zeros_like(plan.q))
        last = len(plan.q) - 1
        for t, (q, grip, dq) in enumerate(zip(plan.q, plan.gripper, noise)):
            actions.append(self._action(q, grip))            # the label: the clean planned target
            executed = np.clip(q + dq, self._q_low, self._q_high)
            # obs_t is what the robot saw before action_t: the state after the last action is not
            # stored, so it is not rendered either
            obs, _, _, _, _ = env.step(np.concatenate([executed, grip]).astype(np.float32), observe=t < last)
            if t < last:
                frames.append(self._points(obs, seed, names))
        info = env.task.evaluate()
        if not info["success"]:
            detail = json.dumps({k: v for k, v in info.items() if isinstance(v, (bool, int, float))})
            return EpisodeResult(index, seed, False, "physics_failed", detail, sample=sample)
        obs = {k: np.stack([f[k] for f in frames]) for k in frames[0]}
        dones = np.zeros(len(actions), bool)
        dones[-1] = True
        rig = world.rig
        camera = {"K": rig.K.tolist(), "baseline": rig.baseline, "pose": list(rig.pose), "hfov_deg": rig.hfov_deg,
                  "width": rig.width, "height": rig.height, "frame_id": rig.camera_info("left")["frame_id"]}
        extra = {"replanned": plan.replanned, "skipped_distractors": self.target.skipped_distractors,
                 "joint_names": list(self.robot.arm_joints), "renderer": world.renderer, "points_of": names,
                 "task_info": {k: v for k, v in info.items() if isinstance(v, (bool, int, float))}}
        ep = Episode(seed=seed, robot=self.robot.name, task=env.task.name, success=True, obs=obs,
                     actions=np.asarray(actions), dones=dones, action_names=self.action_names, dr_sample=sample,
                     spec=self.spec.to_dict(), camera=camera, extra=extra)
        return EpisodeResult(index, seed, True, episode=ep, sample=sample)

    def _action(self, q: np.ndarray, grip: np.ndarray) -> np.ndarray:
        base = self.world.base_matrix()
        cam_inv = np.linalg.inv(self.world.rig.optical_pose("left"))
        out = []
        for chain, cols, g in zip(self.chains, self.arm_cols, grip):
            ee = chain.fk(q[cols])
            out += [q[cols], matrix_to_pose(ee), [g], matrix_to_pose(cam_inv @ base @ ee)]
        return np.concatenate(out)

    def _observe(self, seed: int, names: list[str]) -> dict[str, np.ndarray]:
        """The observation of the current state, as ``DexSimEnv.step`` returns it, plus points."""
        world = self.world
        q, qd = world.joint_states()
        n_arms = len(self.robot.arms)
        obs = {"joint_pos": q.astype(np.float32), "joint_vel": qd.astype(np.float32),
               "ee_pose": np.concatenate([world.ee_pose(a, "base") for a in range(n_arms)]).astype(np.float32),
               "gripper": world.gripper_openings().astype(np.float32)}
        images = world.render()
        images["depth"] = np.clip(images["depth"], world.rig.near, world.rig.far).astype(np.float32)
        obs.update(images)
        return self._points(obs, seed, names)

    def _points(self, obs: dict, seed: int, names: list[str]) -> dict[str, np.ndarray]:
        world = self.world
        out = dict(obs)
        if len(self.robot.arms) > 1:          # the layout holds one arm's ee/gripper; keep all as well
            out["ee_pose_arms"], out["gripper_arms"] = obs["ee_pose"], obs["gripper"]
            out["ee_pose"], out["gripper"] = obs["ee_pose"][:7], obs["gripper"][:1]
        out["points"] = point_cloud(world, obs["depth"], obs["seg"], names, seed=seed)
        return out

    def close(self) -> None:
        self.env.close()


# ------------------------------------------------------------------- pools

class _LocalPool:
    """Runs episodes in this process, in submission order."""

    def __init__(self, runner_kwargs: dict) -> None:
        self.runner = EpisodeRunner(**runner_kwargs)
        self._queue: list[tuple[int, int, dict]] = []

    @property
    def capacity(self) -> int:
        return 1

    def skill_dict(self) -> dict:
        return self.runner.skill_dict()

    def submit(self, index: int, seed: int, sample: dict) -> None:
        self._queue.append((index, seed, sample))

    def pending(self) -> int:
        return len(self._queue)

    def next_result(self) -> EpisodeResult:
        return self.runner.run(*self._queue.pop(0))

    def close(self) -> None:
        self.runner.close()


def _process_worker(conn, runner_kwargs: dict) -> None:
    """Loop of one worker process: build a runner, answer ("run", args) requests until ("stop",)."""
    runner = EpisodeRunner(**runner_kwargs)
    conn.send(runner.skill_dict())
    while True:
        msg = conn.recv()
        if msg[0] == "stop":
            break
        conn.send(runner.run(*msg[1]))
    runner.close()


class _ProcessPool:
    """One spawned process (one environment) per worker, talking over pipes: nothing listens on a port.

    A worker that dies (killed, out of memory, a crash in a native library) is replaced and its
    in-flight episodes are run again by the new one (an episode is a function of its seed and
    sample, so the dataset is the same); after MAX_WORKER_RESTARTS replacements in a run the
    generation stops with a GenerateError naming the episodes in flight."""

    def __init__(self, runner_kwargs: dict, workers: int) -> None:
        import multiprocessing as mp

        self._ctx = mp.get_context("spawn")
        self._runner_kwargs = runner_kwargs
        self._conns, self._procs = [None] * workers, [None] * workers
        for slot in range(workers):
            self._spawn(slot)
        self._skill = [c.recv() for c in self._conns][0]
        self._busy: dict[int, list[tuple]] = {i: [] for i in range(workers)}   # (index, seed, sample) in order
        self._wait = mp.connection.wait
        self.restarts = 0

    def _spawn(self, slot: int) -> None:
        parent, child = self._ctx.Pipe()
        proc = self._ctx.Process(target=_process_worker, args=(child, self._runner_kwargs), daemon=True)
        proc.start()
        child.close()
        self._conns[slot], self._procs[slot] = parent, proc

    @property
    def capacity(self) -> int:
        return IN_FLIGHT_PER_WORKER * len(self._conns)

    def skill_dict(self) -> dict:
        return self._skill

    def submit(self, index: int, seed: int, sample: dict) -> None:
        slot = min(self._busy, key=lambda k: len(self._busy[k]))
        try:
            self._conns[slot].send(("run", (index, seed, sample)))
        except (BrokenPipeError, OSError):          # it died idle: replace it, then hand the episode on
            self._replace(slot)
            self.submit(index, seed, sample)
            return
        self._busy[slot].append((index, seed, sample))

    def pending(self) -> int:
        return sum(len(v) for v in self._busy.values())

    def next_result(self) -> EpisodeResult:
        while True:
            ready = self._wait([c for i, c in enumerate(self._conns) if self._busy[i]])
            slot = self._conns.index(ready[0])
            try:
                result = ready[0].recv()
            except (EOFError, OSError):
                self._replace(slot)
                continue
            self._busy[slot].pop(0)
            return result

    def _replace(self, slot: int) -> None:
        """Worker ``slot`` died: start another and hand it the episodes the dead one had in flight."""
        proc, lost = self._procs[slot], self._busy[slot]
        proc.join(timeout=10)
        if self.restarts >= MAX_WORKER_RESTARTS:
            raise GenerateError(f"worker {slot} died (exit code {proc.exitcode}) with episodes "
                                f"{[i for i, _, _ in lost]} in flight, after {self.restarts} worker restarts")
        self.restarts += 1
        LOG.warning("worker %d died (exit code %s); restarting it and re-running episodes %s", slot, proc.exitcode,
                    [i for i, _, _ in lost])
        self._conns[slot].close()
        self._spawn(slot)
        self._conns[slot].recv()                           # its skill, the same as every worker's
        self._busy[slot] = []
        for args in lost:
            self.submit(*args)

    def close(self) -> None:
        for conn, proc in zip(self._conns, self._procs):
            try:
                conn.send(("stop",))
            except (BrokenPipeError, OSError):
                pass
        for proc in self._procs:
            proc.join(timeout=10)
            if proc.is_alive():
                proc.kill()


def init_local_ray(num_cpus: int, address: str | None = None) -> None:
    """Start (or join, with ``address``) Ray for this process.

    Local: node address 127.0.0.1, no dashboard, usage statistics off, worker logs not forwarded.
    Ray 2.60 still binds its gRPC servers (GCS, raylet, core workers) on all interfaces and its
    runtime-env agent on the host address; it has no option to change that. Run local Ray only on a
    machine whose firewall closes those ports, or inside a loopback-only network namespace
    (``unshare -rn``); the default local backend ("process") opens no port at all.
    """
    import ray

    os.environ["RAY_USAGE_STATS_ENABLED"] = "0"
    if ray.is_initialized():
        return
    if address:
        ray.init(address=address, log_to_driver=False)
        return
    ray.init(num_cpus=num_cpus, include_dashboard=False, _node_ip_address="127.0.0.1", log_to_driver=False,
             configure_logging=False)


class _RayPool:
    """One Ray actor (one environment) per worker; results come back as they finish."""

    def __init__(self, runner_kwargs: dict, workers: int, address: str | None) -> None:
        import ray

        init_local_ray(workers, address)
        self._ray = ray
        actor = ray.remote(num_cpus=1)(EpisodeRunner)
        self.actors = [actor.remote(**runner_kwargs) for _ in range(workers)]
        self._busy: dict[Any, Any] = {}           # object ref -> actor
        self._load = {a: 0 for a in range(workers)}
        self._queue: list[tuple[int, int, dict]] = []

    @property
    def capacity(self) -> int:
        return IN_FLIGHT_PER_WORKER * len(self.actors)

    def skill_dict(self) -> dict:
        return self._ray.get(self.actors[0].skill_dict.remote())

    def submit(self, index: int, seed: int, sample: dict) -> None:
        slot = min(self._load, key=self._load.get)
        ref = self.actors[slot].run.remote(index, seed, sample)
        self._busy[ref] = slot
        self._load[slot] += 1

    def pending(self) -> int:
        return len(self._busy)

    def next_result(self) -> EpisodeResult:
        ready, _ = self._ray.wait(list(self._busy), num_returns=1)
        slot = self._busy.pop(ready[0])
        self._load[slot] -= 1
        return self._ray.get(ready[0])

    def close(self) -> None:
        for actor in self.actors:
            self._ray.kill(actor)


# ------------------------------------------------------------------ driver

def _read_failures(out_dir: Path) -> dict[int, dict]:
    """Failures recorded by earlier (possibly killed) runs; a torn last line is ignored."""
    path = out_dir / FAILURES_FILE
    failures: dict[int, dict] = {}
    if path.exists():
        for line in path.read_text(encoding="utf-8").splitlines():
            try:
                rec = json.loads(line)
            except json.JSONDecodeError:
                continue
            failures[int(rec["seed"])] = rec
    return failures


def _append_failure(out_dir: Path, result: EpisodeResult) -> None:
    with open(out_dir / FAILURES_FILE, "a", encoding="utf-8") as f:
        f.write(json.dumps({"seed": result.seed, "index": result.index, "reason": result.reason,
                            "detail": result.detail[:500]}) + "\n")
        f.flush()
        os.fsync(f.fileno())


def resolve_request(robot: str | None, task: str, spec) -> tuple[str, DRSpec]:
    """Check robot and task, load the spec (a DRSpec, a file, or None for the task's default)."""
    if task not in TASKS:
        raise GenerateError(f"task: unknown {task!r} (valid: {sorted(TASKS)})")
    robot = robot or TASKS[task].default_robot
    try:
        get_robot(robot)
    except UnknownRobotError as exc:
        raise GenerateError(f"robot: {exc}") from None
    if robot not in TASKS[task].robots:
        raise GenerateError(f"robot: task {task!r} supports {list(TASKS[task].robots)}, got {robot!r}")
    if spec is None:
        spec = load_dr_spec(task)
    elif not isinstance(spec, DRSpec):
        path = Path(spec)
        if not path.is_file() and (path.suffix or not (CONFIG_DIR / f"{spec}.yaml").is_file()):
            raise GenerateError(f"spec: file not found: {str(path)!r} (nor a shipped spec such as 'nominal/grasp')")
        try:
            spec = load_dr_spec(path)
        except (DRSpecError, OSError, ValueError) as exc:
            raise GenerateError(f"spec: {exc}") from None
    if spec.task != task:
        raise GenerateError(f"spec: {spec.name!r} is for task {spec.task!r}, not {task!r}")
    return robot, spec


def _check_out_dir(out_dir: Path) -> None:
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        probe = out_dir / ".write_probe"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        raise GenerateError(f"out_dir: cannot write to {str(out_dir)!r}: {exc.strerror or exc}") from None


def check_scene(robot: str, task: str, spec: DRSpec, scene: str | Path | None) -> None:
    """Validate the scene file (or the task's default scene) and the spec's object targets against it,
    before anything is written: a bad scene or a factor naming a missing object is a GenerateError."""
    try:
        parsed = load_scene(scene if scene is not None else TASKS[task].scene_path(robot))
        check_targets(spec, (o.name for o in parsed.objects))
    except SceneError as exc:
        raise GenerateError(f"scene: {exc}") from None
    except DRSpecError as exc:
        raise GenerateError(f"spec: {exc}") from None


def generate(robot: str | None, task: str, spec: DRSpec | str | Path | None, episodes: int, out_dir: str | Path,
             workers: int = 1, seed: int = 0, image_size: tuple[int, int] = (128, 160), *,
             episodes_per_shard: int = 50, renderer: str = "auto", control_hz: float = 10.0,
             adr: ADR | ADRConfig | None = None, address: str | None = None, backend: str = "process",
             progress: bool = True,
             on_progress: Callable[[GenerateProgress], None] | None = None,
             should_stop: Callable[[], bool] | None = None, skill: KeyposeSkill | None = None,
             scene: str | Path | None = None) -> DatasetCard:
    """Generate ``episodes`` randomized, verified episodes (see module doc) into ``out_dir``.

    ``spec``: a DRSpec, a spec file, or None (the task's shipped default). ``adr``: ADR mode (an ADR
    over ``spec`` or its config): verified success is its feedback; its state and a PNG of its range
    history land in ``out_dir``. ``should_stop`` is polled between episodes: when it returns True no
    new episode starts, finished ones are written and the dataset is closed (valid, partial).
    ``workers`` > 1: ``backend="process"`` (default) spawns local worker processes over pipes;
    ``backend="ray"`` (or any ``address``) uses Ray actors.
    ``skill``: a seed skill to scale instead of the task's scripted one (e.g. from
    :func:`~dexsim_sim.skills.replay.skill_from_keyposes`). ``scene``: a scene file to generate in
    instead of the task's default scene for the robot (e.g. a Real2Sim projected scene; the DR spec's
    per-object factors name its objects). Returns the card.
    """
    for key, value, low, high in (("episodes", episodes, 0, MAX_EPISODES), ("workers", workers, 1, MAX_WORKERS),
                                  ("seed", seed, 0, MAX_BASE_SEED), ("episodes_per_shard", episodes_per_shard, 1, None)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low \
                or (high is not None and value > high):
            raise GenerateError(f"{key}: expected an integer in [{low}, {high if high is not None else 'inf'}], "
                                f"got {value!r}")
    if len(image_size) != 2 or any(not isinstance(v, (int, np.integer)) or not 0 < v <= MAX_IMAGE_SIDE
                                   for v in image_size):
        raise GenerateError(f"image_size: expected (H, W) integers in [1, {MAX_IMAGE_SIDE}], got {image_size!r}")
    robot, spec = resolve_request(robot, task, spec)
    check_scene(robot, task, spec, scene)
    out = Path(out_dir)
    _check_out_dir(out)
    t0 = time.monotonic()
    failures = _read_failures(out)
    done_seeds = completed_seeds(out) | set(failures)
    pending = [i for i in range(episodes) if episode_seed(seed, i) not in done_seeds]
    if isinstance(adr, ADRConfig):
        adr = ADR.load(out / ADR_STATE_FILE) if (out / ADR_STATE_FILE).exists() else ADR(spec, adr)
    elif adr is not None and adr.spec.spec_hash() != spec.spec_hash():
        raise GenerateError(f"adr: its DR spec ({adr.spec.name!r}) is not the spec being generated ({spec.name!r}); "
                            "pass the ADR's spec as spec")
    sampler = DRSampler(spec)
    runner_kwargs = dict(robot=robot, task=task, spec=spec.to_dict(), image_size=tuple(int(v) for v in image_size),
                         renderer=renderer, control_hz=control_hz, skill=skill.to_dict() if skill else None,
                         scene=str(scene) if scene is not None else None)
    if backend not in BACKENDS:
        raise GenerateError(f"backend: expected one of {BACKENDS}, got {backend!r}")
    writer = DatasetWriter(out, episodes_per_shard, robot, task, spec.to_dict())
    bar, pool = None, None
    counts = {"done": episodes - len(pending), "failed": len(failures)}
    try:
        if workers == 1 and address is None:
            pool = _LocalPool(runner_kwargs)
        elif backend == "ray" or address is not None:
            pool = _RayPool(runner_kwargs, workers, address)
        else:
            pool = _ProcessPool(runner_kwargs, workers)
        if progress:
            from tqdm import tqdm
            bar = tqdm(total=episodes, initial=episodes - len(pending), desc=f"generate {task}/{robot}", unit="ep")
        skill_dict = pool.skill_dict()
        _run_all(pool, pending, seed, sampler, adr, out, writer, counts, episodes, t0, bar, on_progress, should_stop)
        failures = _read_failures(out)
        reasons: dict[str, int] = {}
        for rec in failures.values():
            if rec["index"] < episodes:
                reasons[rec["reason"]] = reasons.get(rec["reason"], 0) + 1
        writer.card_extra.update({
            "attempted": counts["done"], "requested": episodes, "failed": sum(reasons.values()),
            "failures": dict(sorted(reasons.items())), "seed": int(seed),
            "seed_rule": f"episode seed = seed * {SEED_STRIDE} + index", "image_size": list(image_size),
            "control_hz": control_hz, "seed_skill": skill_dict, "adr": adr is not None,
            "scene_file": str(Path(scene).resolve()) if scene is not None else "", "renderer": renderer,
            "skill_noise": spec.skill_noise.to_dict() if spec.skill_noise else None})
    finally:
        if bar is not None:
            bar.close()
        if pool is not None:
            pool.close()
        card = writer.close()
    if adr is not None:
        adr.save(out / ADR_STATE_FILE)
        adr.plot_history(out / ADR_PLOT_FILE)
    if card.num_episodes:
        save_frame_grid(out, out / FRAME_GRID_FILE)
    return card


def _run_all(pool, pending: list[int], seed: int, sampler: DRSampler, adr: ADR | None, out: Path,
             writer: DatasetWriter, counts: dict, total: int, t0: float, bar, on_progress, should_stop) -> None:
    """Dispatch ``pending`` episode indices, write results in index order. ADR mode works in rounds
    of ADR_ROUND episodes drawn from one ADR state, reported back in index order."""
    round_size = ADR_ROUND if adr is not None else len(pending)
    start = 0
    while start < len(pending):
        batch = pending[start:start + round_size]
        start += round_size
        samples = {}
        for i in batch:
            s = episode_seed(seed, i)
            samples[i] = (adr.sample(s) if adr is not None else sampler.sample(s)).to_dict()
        results: dict[int, EpisodeResult] = {}
        nxt, submitted = 0, 0
        stop = False
        while nxt < len(batch):
            while not stop and submitted < len(batch) and pool.pending() < pool.capacity:
                if should_stop is not None and should_stop():
                    stop = True
                    break
                i = batch[submitted]
                pool.submit(i, episode_seed(seed, i), samples[i])
                submitted += 1
            if pool.pending() == 0:
                return                                     # stopped: nothing more will arrive
            res = pool.next_result()
            results[res.index] = res
            while nxt < len(batch) and batch[nxt] in results:
                r = results.pop(batch[nxt])
                nxt += 1
                if r.success:
                    writer.add_episode(r.episode)
                else:
                    _append_failure(out, r)
                    counts["failed"] += 1
                if adr is not None:
                    adr.report_success(DRSample.from_dict(r.sample), r.success)
                counts["done"] += 1
                if bar is not None:
                    bar.update(1)
                    bar.set_postfix(failed=counts["failed"])
                if on_progress is not None:
                    minutes = max(time.monotonic() - t0, 1e-9) / 60.0
                    on_progress(GenerateProgress(counts["done"], counts["failed"], total, counts["done"] / minutes))
        if adr is not None:
            adr.save(out / ADR_STATE_FILE)
        if stop:
            return


def save_frame_grid(dataset_dir: str | Path, png: str | Path, step: int = 0, max_frames: int = FRAME_GRID_MAX) -> Path:
    """A PNG grid of the left image at ``step`` of the first ``max_frames`` episodes (randomized frames)."""
    import cv2
    import h5py

    from ..datasets.hdf5 import DatasetReader

    reader = DatasetReader(dataset_dir, validate=False)
    tiles = []
    for shard in reader.shards:
        with h5py.File(shard, "r") as f:
            for g in f["data"].values():
                rgb = g["obs/left_rgb"]
                tiles.append(np.asarray(rgb[min(step, rgb.shape[0] - 1)]))
                if len(tiles) >= max_frames:
                    break
        if len(tiles) >= max_frames:
            break
    if not tiles:
        raise GenerateError(f"save_frame_grid: no episodes in {str(dataset_dir)!r}")
    h, w = tiles[0].shape[:2]
    cols = min(FRAME_GRID_COLUMNS, len(tiles))
    rows = math.ceil(len(tiles) / cols)
    grid = np.zeros((rows * h, cols * w, 3), np.uint8)
    for k, tile in enumerate(tiles):
        r, c = divmod(k, cols)
        grid[r * h:(r + 1) * h, c * w:(c + 1) * w] = tile
    png = Path(png)
    if not cv2.imwrite(str(png), grid[..., ::-1]):
        raise GenerateError(f"save_frame_grid: could not write {str(png)!r}")
    return png
