"""Closed-loop evaluation over ROS 2: the sim node and the policy node as separate processes over
real DDS (the bringup's ``sim_graph``, started with the pip-mode launcher). It shares the episode
seeds, outcome records and summary (success rates with 95 % Wilson intervals) with the in-process
evaluation in :mod:`dexsim_policy.evaluation`; only the transport differs. It lives in bringup
because it starts node graphs (dexsim_policy does not import the bringup layer)."""
from __future__ import annotations

import os
import time
from pathlib import Path

from dexsim_policy.evaluation import (ALL_FACTORS, NOMINAL, EpisodeOutcome, EvaluationError, checkpoint_defaults,
                                      default_episode_s, eval_seed, summarize)

ROS_START_TIMEOUT_S = 120.0        # s wall for the sim and policy processes to come up
ROS_CALL_TIMEOUT_S = 30.0
POLICY_DIAG_SUFFIX = "policy"



def wait_for_services(launcher, clients, timeout_s: float = ROS_START_TIMEOUT_S) -> None:
    """Wait until every service client's server is up, failing early when a launched process died."""
    deadline = time.monotonic() + timeout_s
    for srv in clients:
        while not srv.wait_for_service(timeout_sec=1.0):
            launcher.check_alive()
            if time.monotonic() > deadline:
                raise TimeoutError(f"service {srv.srv_name} not available within {timeout_s:.0f} s")

def evaluate_over_ros(checkpoint: str | os.PathLike, robot: str | None = None, task: str | None = None,
                      episodes: int = 2, seed: int = 0, *, episode_sim_s: float | None = None,
                      image_size: tuple[int, int] | None = None, camera_hz: float = 10.0,
                      real_time_factor: float = 1.0, log_dir: str | os.PathLike | None = None,
                      progress: bool = False, scene_file: str | os.PathLike | None = None,
                      spec: str | os.PathLike | None = None, renderer: str | None = None) -> dict:
    """Closed loop over DDS: sim node + policy node as processes (the bringup's ``sim_graph``).

    Per episode: deactivate, ``/dexsim/reset`` with the episode seed, activate, let the policy run
    ``episode_sim_s`` of sim time (ending early once the task succeeds), deactivate. Success is the
    sim node's task check on ``/dexsim/episode`` (dexsim_msgs/EpisodeInfo) for the episode's seed;
    ``info`` holds the goals the policy sent and the safety counters. Scene, renderer and image
    size default to the checkpoint's dataset; with ``spec`` (a DR spec file or shipped name) the sim
    node applies its sample for each episode seed at every reset (condition ``"dr"``), as the
    in-process evaluation does.
    """
    from .graph import GraphError, sim_graph
    from .launcher import LaunchError, Launcher
    from .ros_client import RosClient

    if isinstance(episodes, bool) or not isinstance(episodes, int) or episodes < 1:
        raise EvaluationError(f"episodes: expected an integer >= 1, got {episodes!r}")
    episode_sim_s = default_episode_s(checkpoint) if episode_sim_s is None else episode_sim_s
    if not episode_sim_s > 0:
        raise EvaluationError(f"episode_sim_s: expected > 0, got {episode_sim_s}")
    defaults = checkpoint_defaults(checkpoint)
    robot = robot or defaults.get("robot") or "wx250s"
    size = tuple(image_size or defaults.get("image_size") or (128, 160))
    ckpt = str(Path(checkpoint).resolve())
    try:
        graph = sim_graph(robot, task or defaults.get("task"), checkpoint=ckpt, seed=eval_seed(seed, 0),
                          image_width=int(size[1]), image_height=int(size[0]), camera_hz=camera_hz,
                          real_time_factor=real_time_factor,
                          scene_file=str(scene_file or defaults.get("scene_file") or ""),
                          renderer=renderer or defaults.get("renderer") or "auto", dr_spec=str(spec or ""))
    except GraphError as exc:
        raise EvaluationError(str(exc)) from None
    task = graph.node("dexsim_sim").parameters["task"]
    t0 = time.perf_counter()
    outcomes: list[EpisodeOutcome] = []
    with Launcher(graph, log_dir=log_dir, quiet=True) as launcher, RosClient("dexsim_eval") as client:
        try:
            outcomes = _ros_episodes(launcher, client, episodes, seed, episode_sim_s, progress,
                                     ALL_FACTORS if spec else NOMINAL)
        except (LaunchError, TimeoutError) as exc:
            logs = {n.spec.name: n.log.read_text(errors="replace")[-1500:] for n in launcher.nodes if n.log.exists()}
            raise EvaluationError(f"ROS evaluation failed: {exc}; node logs: {logs}") from exc
    return summarize(outcomes, mode="ros", checkpoint=ckpt, robot=robot, task=task, image_size=list(size),
                     seed=seed, episode_sim_s=episode_sim_s, success_source="/dexsim/episode",
                     wall_s=time.perf_counter() - t0)


def _ros_episodes(launcher, client, episodes: int, seed: int, episode_sim_s: float, progress: bool,
                  condition: str = NOMINAL) -> list[EpisodeOutcome]:
    from diagnostic_msgs.msg import DiagnosticArray
    from dexsim_msgs.msg import EpisodeInfo
    from dexsim_msgs.srv import ResetEpisode, SetPolicyActive
    from rosgraph_msgs.msg import Clock

    node = client.node
    clock: list[float] = [0.0]
    diag: dict[str, str] = {}
    node.create_subscription(Clock, "/clock", lambda m: clock.__setitem__(0, m.clock.sec + m.clock.nanosec * 1e-9), 10)

    def on_diag(msg) -> None:
        for status in msg.status:
            if status.name.endswith(POLICY_DIAG_SUFFIX):
                diag.clear()
                diag.update({kv.key: kv.value for kv in status.values})

    node.create_subscription(DiagnosticArray, "/diagnostics", on_diag, 10)
    succeeded: set[int] = set()       # episode seeds whose task check reported success

    def on_episode(msg) -> None:
        if msg.success:
            succeeded.add(int(msg.seed))

    node.create_subscription(EpisodeInfo, "/dexsim/episode", on_episode, 10)
    reset = node.create_client(ResetEpisode, "/dexsim/reset")
    activate = node.create_client(SetPolicyActive, "/dexsim/policy/set_active")
    wait_for_services(launcher, (reset, activate))

    def set_active(on: bool) -> None:
        res = client.call(activate, SetPolicyActive.Request(active=on), ROS_CALL_TIMEOUT_S)
        if not res.success:
            raise EvaluationError(f"set_active({on}) failed: {res.message}")

    outcomes = []
    for i in range(episodes):
        s = eval_seed(seed, i)
        set_active(False)
        res = client.call(reset, ResetEpisode.Request(seed=s), ROS_CALL_TIMEOUT_S)
        if not res.success:
            raise EvaluationError(f"/dexsim/reset(seed={s}) failed: {res.message}")
        sent_before = int(diag.get("goals_sent", 0))
        succeeded.discard(s)
        set_active(True)
        start = clock[0]
        while clock[0] < start + episode_sim_s and s not in succeeded:
            launcher.check_alive()
            time.sleep(0.05)
        set_active(False)
        client.wait_for(lambda: diag.get("active") == "False", ROS_CALL_TIMEOUT_S)   # counters after the stop
        counters = {k: diag.get(k) for k in ("goals_sent", "refused", "clipped", "gripper_sent", "stale_events",
                                              "latency_p50_ms", "latency_p99_ms", "inference_ms")}
        counters["goals_sent_episode"] = int(diag.get("goals_sent", 0)) - sent_before
        success = s in succeeded
        outcomes.append(EpisodeOutcome(condition, s, success, 0, {"sim_s": clock[0] - start, **counters}))
        if progress:
            print(f"[eval ros] episode {i + 1}/{episodes} seed {s}: {'success' if success else 'failure'}, "
                  f"{counters['goals_sent_episode']} goals in {clock[0] - start:.1f} s sim time", flush=True)
    return outcomes
