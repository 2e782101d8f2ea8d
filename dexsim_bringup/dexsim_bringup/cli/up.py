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
    s.add_argument("--image-size", default="512x640", metavar="HxW", help="stereo image size (default 512x640)")
    s.add_argument("--camera-hz", type=float, default=10.0, help="stereo rate in sim time (default 10)")
    s.add_argument("--real-time-factor", type=float, default=1.0, help="sim speed; 0 = as fast as possible")
    s.add_argument("--duration", type=float, default=None, help="stop after this many seconds (default: Ctrl-C)")
    s.add_argument("--headless", action="store_true", help="no viewer (pip mode has no RViz; this is the default)")
    s.add_argument("--log-dir", default=None, help="write node logs here (default: a temporary folder)")
    s.set_defaults(func=run, needs_ros=True)


def parse_size(text: str) -> tuple[int, int]:
    try:
        h, w = (int(v) for v in text.lower().split("x"))
    except ValueError as exc:
        raise CLIError(f"--image-size: expected HxW like 512x640, got {text!r}") from exc
    if h <= 0 or w <= 0:
        raise CLIError(f"--image-size: sizes must be positive, got {text!r}")
    return h, w


def run(args) -> int:
    from dexsim_bringup.graph import GraphError, sim_graph
    from dexsim_bringup.launcher import LaunchError, Launcher

    h, w = parse_size(args.image_size)
    try:
        graph = sim_graph(args.robot, args.task, checkpoint=args.checkpoint, record=args.record, seed=args.seed,
                          image_width=w, image_height=h, camera_hz=args.camera_hz,
                          real_time_factor=args.real_time_factor)
    except GraphError as exc:
        raise CLIError(str(exc)) from exc
    launcher = Launcher(graph, log_dir=args.log_dir)
    try:
        with launcher:
            print(f"[dexsim up] {graph.name} graph up: {', '.join(n.name for n in graph.nodes)} (Ctrl-C to stop)",
                  file=sys.stderr)
            launcher.wait(args.duration)
    except LaunchError as exc:
        raise CLIError(str(exc)) from exc
    return 0
