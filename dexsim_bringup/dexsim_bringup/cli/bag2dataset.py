"""`dexsim bag2dataset BAG --out DIR`: a recorded or tele-operated rosbag2 -> a DexSim dataset episode
(bags with stereo images) or a seed joint trajectory (trajectory.json, bags of /joint_states only)."""
from __future__ import annotations

import sys

from . import CLIError


def register(sub) -> None:
    from dexsim_bringup.graph import ROBOTS, TASKS

    p = sub.add_parser("bag2dataset", help="convert a rosbag2 (MCAP or sqlite3) into a DexSim dataset",
                       description=__doc__)
    p.add_argument("bag", help="rosbag2 directory (e.g. from `dexsim up ... --record`)")
    p.add_argument("--out", required=True, help="dataset directory to write (episodes are appended)")
    p.add_argument("--robot", default="wx250s", choices=ROBOTS, help="robot the bag was recorded on")
    p.add_argument("--task", default="grasp", choices=TASKS, help="task label of the episode")
    p.add_argument("--seed", type=int, default=0, help="episode seed (its id in the dataset; seeds point sampling)")
    p.add_argument("--failed", action="store_true", help="label the episode unsuccessful")
    p.add_argument("--hz", type=float, default=10.0, help="resampling rate for bags without images (Hz)")
    p.set_defaults(func=run)


def run(args) -> int:
    from dexsim_bringup.bag_dataset import BagConversionError, ConversionConfig, convert_bag
    from dexsim_sim.datasets.hdf5 import DatasetError

    try:
        cfg = ConversionConfig(args.robot, args.task, args.seed, not args.failed, args.hz)
        out = convert_bag(args.bag, args.out, cfg)
    except (BagConversionError, DatasetError, FileNotFoundError) as exc:
        raise CLIError(str(exc)) from exc
    print(f"[dexsim bag2dataset] wrote {out}", file=sys.stderr)
    return 0
