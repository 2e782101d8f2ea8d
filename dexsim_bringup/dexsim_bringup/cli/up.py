"""`dexsim up {sim,...}`: bring up a DexSim node graph in pip mode (what `ros2 launch` does on a
full ROS install, from the same graph description in dexsim_bringup.graph)."""
from __future__ import annotations

import sys

from . import CLIError


def register(sub) -> None:
    p = sub.add_parser("up", help="bring up a node graph (pip-mode equivalent of ros2 launch)", description=__doc__)
    modes = p.add_subparsers(dest="mode", metavar="MODE", required=True)
    s = modes.add_parser("sim", help="the simulated arm (sim node), optionally the policy node and a recorder",
                         description="Simulated bringup: equivalent of `ros2 launch dexsim_bringup sim.launch.py`.")
    from dexsim_bringup.graph import ROBOTS, TASKS

    s.add_argument("--robot", default="wx250s", choices=ROBOTS, help="robot to simulate (default: wx250s)")
    s.add_argument("--task", default=None, choices=TASKS, help="task (default: the robot's default task)")
    s.add_argument("--checkpoint", default="", help="policy checkpoint directory: also start the policy node")
    s.add_argument("--record", default="", metavar="BAG_DIR", help="also record the DexSim topics to this MCAP bag")
    s.add_argument("--seed", type=int, default=0, help="episode seed of the sim")
    s.add_argument("--scene", default="", help="scene file to simulate (default: the task's scene for the robot)")
    s.add_argument("--spec", default="", help="DR spec applied at every reset (default: none)")
    s.add_argument("--image-size", default="512x640", metavar="HxW", help="stereo image size (default 512x640)")
    s.add_argument("--camera-hz", type=float, default=10.0, help="stereo rate in sim time (default 10)")
    s.add_argument("--real-time-factor", type=float, default=1.0, help="sim speed; 0 = as fast as possible")
    s.add_argument("--duration", type=float, default=None, help="stop after this many seconds (default: Ctrl-C)")
    s.add_argument("--headless", action="store_true", help="no viewer (pip mode has no RViz; this is the default)")
    s.add_argument("--log-dir", default=None, help="write node logs here (default: a temporary folder)")
    s.add_argument("--viz", action="store_true", help="also start the Foxglove live view on 127.0.0.1:8765")
    s.set_defaults(func=run, needs_ros=True)

    from dexsim_bringup.graph import CAMERAS, DRIVERS, REAL_ROBOTS

    r = modes.add_parser("real", help="real arm + stereo camera (vendor drivers need full ROS 2) and the policy node",
                         description="Hardware bringup: equivalent of `ros2 launch dexsim_bringup real.launch.py`. "
                         "In pip mode only DexSim's own nodes start; vendor drivers need a full ROS 2 install "
                         "(`ros2 launch ...`), or `--driver sim` stands the sim node in for them.")
    r.add_argument("--robot", default="wx250s", choices=REAL_ROBOTS, help="the real arm (default: wx250s)")
    r.add_argument("--camera", default="realsense", choices=CAMERAS, help="the stereo camera (default: realsense)")
    r.add_argument("--checkpoint", default="", help="policy checkpoint directory: start the policy node")
    r.add_argument("--driver", default="vendor", choices=DRIVERS, help="vendor drivers, or the sim node standing in")
    r.add_argument("--execute", action="store_true",
                   help="send action goals to the arm (default: dry run, goals go to /dexsim/policy/dry_run_trajectory)")
    r.add_argument("--arm-action", default="", help="FollowJointTrajectory action (default: the robot config's)")
    r.add_argument("--gripper-action", default="", help="gripper action (GripperCommand, or the finger FollowJointTrajectory of an Interbotix arm; default: the robot config's)")
    r.add_argument("--config", default="", help="robot config YAML (default: config/<robot>.yaml)")
    r.add_argument("--record", default="", metavar="BAG_DIR", help="also record the DexSim topics to this MCAP bag")
    r.add_argument("--image-size", default="512x640", metavar="HxW", help="stand-in sim image size (--driver sim)")
    r.add_argument("--duration", type=float, default=None, help="stop after this many seconds (default: Ctrl-C)")
    r.add_argument("--log-dir", default=None, help="write node logs here (default: a temporary folder)")
    r.add_argument("--viz", action="store_true", help="also start the Foxglove live view on 127.0.0.1:8765")
    r.set_defaults(func=run_real, needs_ros=True)

    from dexsim_bringup.graph import RECORD_TOPICS

    rec = modes.add_parser("record", help="record DexSim topics of a running graph to an MCAP rosbag2",
                           description="Equivalent of `ros2 launch dexsim_bringup record.launch.py`.")
    rec.add_argument("--out", required=True, metavar="BAG_DIR", help="bag directory to create")
    rec.add_argument("--topics", nargs="+", default=list(RECORD_TOPICS), help="topics (default: the DexSim topics)")
    rec.add_argument("--wall-time", action="store_true", help="stamp with wall time instead of /clock")
    rec.add_argument("--duration", type=float, default=None, help="stop after this many seconds (default: Ctrl-C)")
    rec.add_argument("--log-dir", default=None, help="write node logs here (default: a temporary folder)")
    rec.set_defaults(func=run_record, needs_ros=True)

    d = modes.add_parser("data", help="the data engine: projection + scaling nodes",
                         description="Equivalent of `ros2 launch dexsim_bringup data.launch.py`.")
    d.add_argument("--robot", default="wx250s", choices=ROBOTS, help="robot (default: wx250s)")
    d.add_argument("--task", default=None, choices=TASKS, help="task (default: the robot's default task)")
    d.add_argument("--output-dir", default="", help="default dataset directory of GenerateDataset goals")
    d.add_argument("--workers", type=int, default=1, help="simulation worker processes (default 1)")
    d.add_argument("--duration", type=float, default=None, help="stop after this many seconds (default: Ctrl-C)")
    d.add_argument("--log-dir", default=None, help="write node logs here (default: a temporary folder)")
    d.set_defaults(func=run_data, needs_ros=True)


def parse_size(text: str) -> tuple[int, int]:
    try:
        h, w = (int(v) for v in text.lower().split("x"))
    except ValueError as exc:
        raise CLIError(f"--image-size: expected HxW like 512x640, got {text!r}") from exc
    if h <= 0 or w <= 0:
        raise CLIError(f"--image-size: sizes must be positive, got {text!r}")
    return h, w


def _build(make, *args, **kwargs):
    from dexsim_bringup.graph import GraphError

    try:
        return make(*args, **kwargs)
    except GraphError as exc:
        raise CLIError(str(exc)) from exc


def run(args) -> int:
    from dexsim_bringup.graph import sim_graph

    h, w = parse_size(args.image_size)
    graph = _build(sim_graph, args.robot, args.task, checkpoint=args.checkpoint, record=args.record, seed=args.seed,
                   image_width=w, image_height=h, camera_hz=args.camera_hz, real_time_factor=args.real_time_factor,
                   viz=args.viz, scene_file=args.scene, dr_spec=args.spec)
    return bring_up(graph, args)


def run_real(args) -> int:
    from dexsim_bringup.graph import real_graph

    h, w = parse_size(args.image_size)
    graph = _build(real_graph, args.robot, args.camera, args.checkpoint, driver=args.driver, dry_run=not args.execute,
                   arm_action=args.arm_action, gripper_action=args.gripper_action, record=args.record, viz=args.viz,
                   config=args.config, image_width=w, image_height=h)
    if graph.includes:
        print("[dexsim up] real: the vendor drivers need a full ROS 2 install; start them there with "
              f"`ros2 launch dexsim_bringup real.launch.py robot:={args.robot} camera:={args.camera}` or by hand: "
              + "; ".join(f"{i.package} ({i.launch_file})" for i in graph.includes), file=sys.stderr)
    if not graph.nodes:
        raise CLIError("real: nothing to start in pip mode (no --checkpoint, --record or --viz, and vendor drivers "
                       "need full ROS 2: " + ", ".join(i.package for i in graph.includes) + ")")
    return bring_up(graph, args)


def run_record(args) -> int:
    from dexsim_bringup.graph import record_graph

    return bring_up(_build(record_graph, args.out, tuple(args.topics), use_sim_time=not args.wall_time), args)


def run_data(args) -> int:
    from dexsim_bringup.graph import data_graph

    return bring_up(_build(data_graph, args.robot, args.task, output_dir=args.output_dir, workers=args.workers), args)


def bring_up(graph, args) -> int:
    """Run ``graph`` until ``--duration`` passes, Ctrl-C or SIGTERM (both stop every node cleanly
    and exit 0), or a node dies (an error)."""
    import signal

    from dexsim_bringup.launcher import LaunchError, Launcher

    def _terminate(_signum, _frame):
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, _terminate)
    launcher = Launcher(graph, log_dir=args.log_dir)
    try:
        with launcher:
            print(f"[dexsim up] {graph.name} graph up: {', '.join(n.name for n in graph.nodes)} (Ctrl-C to stop)",
                  file=sys.stderr)
            launcher.wait(args.duration)
    except KeyboardInterrupt:
        print(f"[dexsim up] {graph.name} graph stopped", file=sys.stderr)
    except LaunchError as exc:
        raise CLIError(str(exc)) from exc
    finally:
        signal.signal(signal.SIGTERM, previous)
    return 0
