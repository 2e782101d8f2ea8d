"""`dexsim generate`: a randomized, physics-verified dataset from the task's seed skill.

Prints the dataset card's summary; errors (unknown robot/task, malformed spec, unwritable output
directory) are one line and exit code 2.
"""
from __future__ import annotations

import re

from . import CLIError

IMAGE_SIZE_RE = re.compile(r"^(\d+)x(\d+)$")


def parse_image_size(text: str) -> tuple[int, int]:
    """--image-size HxW -> (H, W); a one-line CLIError otherwise."""
    match = IMAGE_SIZE_RE.match(text)
    if not match or 0 in (int(match.group(1)), int(match.group(2))):
        raise CLIError(f"--image-size: expected HxW with positive integers (e.g. 128x160), got {text!r}")
    return int(match.group(1)), int(match.group(2))


def register(sub) -> None:
    p = sub.add_parser("generate", help="generate a randomized, verified dataset (HDF5 shards + card.json)",
                       description=__doc__)
    p.add_argument("--robot", default=None, help="robot name (default: the task's default robot)")
    p.add_argument("--task", default="grasp", help="grasp | open_box | rearrange (default: grasp)")
    p.add_argument("--spec", default=None, help="DR spec file (default: the task's shipped spec)")
    p.add_argument("--episodes", type=int, required=True, help="episodes to attempt (failures are discarded)")
    p.add_argument("--out", required=True, help="dataset directory (an existing one is resumed)")
    p.add_argument("--workers", type=int, default=1, help="worker processes, one environment each (default 1)")
    p.add_argument("--seed", type=int, default=0, help="base seed: episode seed = seed * 1000003 + index")
    p.add_argument("--image-size", default="128x160", help="stored image size HxW (default 128x160)")
    p.add_argument("--scene", default=None, help="scene file to generate in (default: the task's scene for the "
                                                 "robot), e.g. a projected one from `dexsim project scene`")
    p.add_argument("--skill", default=None, help="seed skill to scale instead of the task's scripted one: keyposes "
                                                 "JSON from `dexsim project demo`, or a keypose-skill JSON")
    p.add_argument("--episodes-per-shard", type=int, default=50, help="episodes per HDF5 shard (default 50)")
    p.add_argument("--address", default=None, help="Ray cluster address (default: local worker processes)")
    p.add_argument("--ray", action="store_true", help="use local Ray actors instead of plain worker processes")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=run, needs_ros=False)


def run(args) -> int:
    from dexsim_bringup.cli import CLIError
    from dexsim_sim.scaling.generate import GenerateError, generate

    image_size = parse_image_size(args.image_size)
    try:
        skill, scene = None, args.scene
        if args.skill:
            from dexsim_sim.skills.keypose import SkillError
            from dexsim_sim.skills.seed import prepare_seed

            try:   # a projected scene without a target: the object the demonstration grasps
                skill, scene = prepare_seed(args.skill, args.robot, args.task, args.scene, args.out)
            except SkillError as exc:
                raise CLIError(exc.detail) from None
        card = generate(args.robot, args.task, args.spec, args.episodes, args.out, workers=args.workers,
                        seed=args.seed, image_size=image_size,
                        episodes_per_shard=args.episodes_per_shard, address=args.address,
                        backend="ray" if args.ray else "process", progress=not args.no_progress,
                        skill=skill, scene=scene)
    except GenerateError as exc:
        raise CLIError(str(exc)) from None
    extra = card.extra
    print(f"dataset: {args.out}")
    print(f"robot/task: {card.robot}/{card.task}   image size: {card.image_size[0]}x{card.image_size[1]}")
    print(f"episodes: {card.num_episodes} written of {extra.get('attempted', card.num_episodes)} attempted "
          f"({card.num_steps} steps, {card.num_shards} shards)")
    print(f"failures: {extra.get('failed', 0)} {extra.get('failures', {})}")
    print(f"DR spec: {(card.dr_spec or {}).get('name', '')} ({card.dr_spec_hash[:12]})")
    return 0
