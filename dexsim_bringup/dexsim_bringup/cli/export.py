"""`dexsim export`: a DexSim dataset in another project's format. ``--format lerobot``: a LeRobot
v3.0 dataset (Parquet + H.264 MP4 + meta/) that ``LeRobotDataset(repo_id, root=OUT)`` loads."""
from __future__ import annotations

import json


def register(sub) -> None:
    p = sub.add_parser("export", help="export a dataset: --format lerobot (LeRobot v3.0)", description=__doc__)
    p.add_argument("--data", required=True, help="DexSim dataset directory (shard_*.h5 + card.json)")
    p.add_argument("--format", default="lerobot", choices=["lerobot"], help="target format (default lerobot)")
    p.add_argument("--out", required=True, help="new output folder")
    p.add_argument("--fps", type=float, default=None, help="frame rate (default: the dataset's control rate)")
    p.set_defaults(func=run, needs_ros=False)


def run(args) -> int:
    from dexsim_bringup.cli import CLIError
    from dexsim_sim.datasets.card import read_card
    from dexsim_sim.datasets.hdf5 import DatasetError, DatasetReader
    from dexsim_sim.datasets.lerobot import LeRobotExportError, export_lerobot

    try:
        card = read_card(args.data)
        fps = args.fps or float(card.get("extra", {}).get("control_hz", 10.0))
        reader = DatasetReader(args.data)
        info_path = export_lerobot(iter(reader), args.out, fps=fps, robot_type=card.get("robot", ""))
    except (DatasetError, LeRobotExportError, OSError, ValueError) as exc:
        raise CLIError(f"export: {exc}") from None
    info = json.loads(info_path.read_text())
    print(json.dumps({"out": args.out, "format": f"lerobot {info['codebase_version']}",
                      "episodes": info["total_episodes"], "frames": info["total_frames"], "fps": info["fps"]}))
    return 0
