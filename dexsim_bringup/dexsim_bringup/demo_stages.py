"""The stages of `dexsim demo` (see cli/demo.py). Each takes the shared context dict (robot,
out folder, and whatever earlier stages left there) and returns a JSON-able result."""
from __future__ import annotations

from pathlib import Path

import numpy as np

DEMO_IMAGE_HW = (256, 320)       # stereo size in the sim stage (fast on CPU)
SERVER_WAIT_S = 60.0
GOAL_DURATION_S = 3.0


def _target_configuration(robot) -> np.ndarray:
    """A reachable, in-limit configuration a little away from home (the demo's goal)."""
    home = np.asarray(robot.home, dtype=float)
    lower = np.array([robot.limits[j].lower for j in robot.arm_joints])
    upper = np.array([robot.limits[j].upper for j in robot.arm_joints])
    offset = np.zeros_like(home)
    offset[0] = 0.5                              # turn the base
    if len(home) > 2:
        offset[1], offset[2] = 0.15, -0.15       # lean the arm a little
    return np.clip(home + offset, lower + 0.05, upper - 0.05)


def stage_sim(ctx: dict) -> dict:
    """Bring the sim graph up in pip mode, execute a trajectory over ROS 2, write stereo PNGs."""
    from control_msgs.action import FollowJointTrajectory
    from rclpy.action import ActionClient
    from rclpy.qos import qos_profile_sensor_data
    from sensor_msgs.msg import Image, JointState
    from trajectory_msgs.msg import JointTrajectoryPoint

    from dexsim_sim.env import DexSimEnv
    from dexsim_sim.robots.registry import get_robot
    from dexsim_sim.ros.conversions import msg_to_image
    from dexsim_sim.viz import save_rgb_png, stereo_overlay

    from .graph import sim_graph
    from .launcher import Launcher
    from .ros_client import RosClient

    out: Path = ctx["out"] / "sim"
    out.mkdir(parents=True, exist_ok=True)
    robot = get_robot(ctx["robot"])
    if len(robot.arms) != 1:
        raise ValueError("the demo's sim stage drives a single-arm robot")
    h, w = DEMO_IMAGE_HW
    graph = sim_graph(robot.name, image_width=w, image_height=h, real_time_factor=1.0)
    result: dict = {"robot": robot.name, "graph": [n.name for n in graph.nodes]}
    with Launcher(graph, log_dir=out / "logs") as launcher, RosClient("dexsim_demo") as ros:
        joints: list = []
        images: dict[str, Image] = {}
        ros.node.create_subscription(JointState, "/joint_states", joints.append, 10)
        for side in ("left", "right"):
            ros.node.create_subscription(Image, f"/stereo/{side}/image_rect",
                                         lambda m, s=side: images.__setitem__(s, m), qos_profile_sensor_data)
        client = ActionClient(ros.node, FollowJointTrajectory, "/arm_controller/follow_joint_trajectory")
        if not client.wait_for_server(timeout_sec=SERVER_WAIT_S):
            launcher.check_alive()
            raise TimeoutError("the sim node's /arm_controller/follow_joint_trajectory did not come up")
        ros.wait_for(lambda: bool(joints) and len(images) == 2, 30)
        target = _target_configuration(robot)
        goal = FollowJointTrajectory.Goal()
        goal.trajectory.joint_names = list(robot.arm_joints)
        point = JointTrajectoryPoint(positions=target.tolist())
        point.time_from_start.sec = int(GOAL_DURATION_S)
        goal.trajectory.points = [point]
        handle = ros.result(client.send_goal_async(goal), 30)
        if not handle.accepted:
            raise RuntimeError("the sim node rejected the demo trajectory")
        res = ros.result(handle.get_result_async(), 60)
        images.clear()
        ros.wait_for(lambda: len(images) == 2, 10)
        last = joints[-1]
        q = np.array([last.position[list(last.name).index(j)] for j in robot.arm_joints])
        result.update(error_code=int(res.result.error_code), error_string=res.result.error_string,
                      max_joint_error_rad=float(np.max(np.abs(q - target))))
        if len(images) == 2:
            pair = np.concatenate([msg_to_image(images["left"]), msg_to_image(images["right"])], axis=1)
            result["stereo_over_ros_png"] = str(save_rgb_png(pair, out / "stereo_over_ros.png"))
        client.destroy()
    # The same scene rendered directly (ROS-free) with its instance segmentation.
    env = DexSimEnv(task="grasp", robot=robot.name, image_size=(2 * h, 2 * w))
    try:
        obs, _ = env.reset(seed=0)
        panel = stereo_overlay(obs, label=f"{robot.name} grasp: left | right | segmentation")
        result["stereo_overlay_png"] = str(save_rgb_png(panel, out / "stereo_overlay.png"))
    finally:
        env.close()
    if result["error_code"] != 0:
        raise RuntimeError(f"trajectory failed: {result['error_string']}")
    return result


def stage_project(ctx: dict) -> dict:
    """Real2Sim: the bundled stereo scene + hand track -> scene file + gripper keyposes."""
    from dexsim_sim.projection.pipeline import run_demo_projection

    summary = run_demo_projection(ctx["out"] / "project", ctx["robot"])
    ctx["scene_file"] = summary["scene_file"]
    ctx["keyposes_file"] = summary["keyposes_file"]
    return summary


DEMO_EPISODES = 24
DEMO_DATA_IMAGE_HW = (96, 128)
# A short ADR pass for the range plot: a few factors, small buffers and big steps so that the
# ranges visibly move in a demo-sized run (the data engine's defaults are m=20, delta=0.1).
DEMO_ADR_FACTORS = ("light_intensity", "camera_position", "object_shift", "object_rotation")
DEMO_ADR_EPISODES = 12
DEMO_ADR_IMAGE_HW = (48, 64)


def stage_generate(ctx: dict) -> dict:
    """Scale the projected demonstration into a small randomized, physics-verified dataset."""
    from dexsim_sim.scaling.adr import ADR, ADRConfig
    from dexsim_sim.scaling.dr import load_dr_spec
    from dexsim_sim.scaling.generate import generate

    from . import real2sim

    out: Path = ctx["out"] / "generate"
    out.mkdir(parents=True, exist_ok=True)
    robot = ctx["robot"]
    skill, scene = None, None
    if "scene_file" in ctx:      # the projected scene and demonstration, as `dexsim real2sim` uses them
        scene = real2sim.generation_scene(ctx["scene_file"], out)
        skill = real2sim.seed_skill(robot, scene, ctx["keyposes_file"])
    dataset = out / "dataset"
    # the nominal projected scene with DART noise on the skill: what the policy is evaluated in
    card = generate(robot, real2sim.TASK, real2sim.DATA_SPEC, ctx.get("episodes", DEMO_EPISODES), dataset, workers=1, seed=0,
                    image_size=DEMO_DATA_IMAGE_HW, skill=skill, scene=scene)
    ctx["dataset"] = dataset
    ctx["generation_scene"] = scene
    adr_dir = out / "adr"
    adr_spec = load_dr_spec("grasp").subset(DEMO_ADR_FACTORS)
    adr = ADR(adr_spec, ADRConfig(p_boundary=1.0, buffer_size=1, delta=0.25))
    adr_card = generate(robot, "grasp", adr_spec, DEMO_ADR_EPISODES, adr_dir, workers=1, seed=1,
                        image_size=DEMO_ADR_IMAGE_HW, adr=adr, skill=skill, scene=scene)
    return {"dataset": str(dataset), "seed_skill": "projected demonstration" if skill else "task's scripted skill",
            "episodes_written": card.num_episodes, "failures": card.extra.get("failures", {}),
            "frame_grid_png": str(dataset / "frames.png"),
            "adr_episodes_verified": adr_card.num_episodes, "adr_ranges": adr.current_ranges(),
            "adr_plot_png": str(adr_dir / "adr_ranges.png")}


DEMO_TRAIN_STEPS = 600
DEMO_TRAIN_EVAL_EPISODES = 5
DEMO_EVAL_EPISODES = 10
DEMO_EVAL_SIM_S = 8.0
SHIPPED_POLICY = Path(__file__).resolve().parent / "resources" / "demo_policy"


def stage_train(ctx: dict) -> dict:
    """Train a small ACT policy on the demo dataset with the shipped recipe (loss curve PNG in the
    run folder) and rate it in process on a few held-out seeds."""
    import torch

    from dexsim_policy.evaluation import evaluate_in_process
    from dexsim_policy.train import TrainConfig, train

    if "dataset" not in ctx:
        raise ValueError("the train stage needs the generate stage's dataset (run stages generate,train)")
    torch.set_num_threads(2)
    run = ctx["out"] / "train"
    steps = ctx.get("train_steps", DEMO_TRAIN_STEPS)
    summary = train(ctx["dataset"], "act", run, config=TrainConfig(steps=steps, batch_size=32, lr=3e-4, seed=0,
                                                                     warmup_steps=min(200, steps // 5),
                                                                     val_every=max(steps // 4, 1)))
    ctx["checkpoint"] = run / "best"
    result = evaluate_in_process(run / "best", episodes=DEMO_TRAIN_EVAL_EPISODES, progress=True,
                                 scene_file=ctx.get("generation_scene"))
    nominal = result["conditions"]["nominal"]
    print(f"the demo's own policy ({summary['num_train_episodes']} demonstrations, {steps} steps), in process: "
          f"{nominal['successes']}/{nominal['rated']} held-out seeds", flush=True)
    return {"run": str(run), "checkpoint": str(run / "best"), "loss_curve_png": str(run / "loss_curve.png"),
            "in_process_successes": nominal["successes"], "in_process_episodes": nominal["rated"],
            **{k: v for k, v in summary.items() if isinstance(v, (int, float, str))}}


def stage_eval(ctx: dict) -> dict:
    """Closed loop through ROS: sim node and policy node as separate processes; success rate on
    held-out seeds. The policy is the shipped demo checkpoint (trained by the project's own
    pipeline on this scene: resources/demo_policy/TRAINING.md) when it fits the robot, else the
    train stage's."""
    from dexsim_policy.checkpoint import read_meta

    from .ros_evaluation import evaluate_over_ros

    checkpoint, source = ctx.get("checkpoint"), "train stage"
    if SHIPPED_POLICY.is_dir() and read_meta(SHIPPED_POLICY).get("dataset_info", {}).get("robot") == ctx["robot"]:
        checkpoint, source = SHIPPED_POLICY, "shipped demo checkpoint"
    if checkpoint is None:
        raise ValueError("the eval stage needs a checkpoint: run the train stage, or ship resources/demo_policy")
    result = evaluate_over_ros(checkpoint, ctx["robot"], "grasp", episodes=DEMO_EVAL_EPISODES,
                               episode_sim_s=DEMO_EVAL_SIM_S, log_dir=ctx["out"] / "eval" / "logs", progress=True,
                               scene_file=ctx.get("generation_scene"))
    nominal = result["conditions"]["nominal"]
    rate, ci = nominal["success_rate"], nominal["ci95"]
    print(f"closed-loop success over ROS ({source}): {nominal['successes']}/{nominal['rated']} = {rate:.0%} "
          f"(95% CI {ci[0]:.0%}-{ci[1]:.0%}) on held-out seeds", flush=True)
    return {"mode": result["mode"], "policy": source, "checkpoint": str(checkpoint), "episodes": nominal["rated"],
            "successes": nominal["successes"], "success_rate": rate, "ci95": ci, "wall_s_eval": result.get("wall_s")}
