"""Regenerate the bundled Real2Sim demo inputs, deterministically: ``python -m dexsim_sim.demo_data.make [--out DIR]``.

A known tabletop scene (``SCENE``) is built in the simulator and rendered by its stereo rig with
speckle textures (ER_TINY_RENDERER); a synthetic, noisy human hand demonstration grasps the
``target`` object, lifts it and puts it down, seen by the left camera. Written files:

- ``scene.yaml``          the source scene (world = table frame)
- ``left.png``, ``right.png``  the rectified stereo pair
- ``camera_info.yaml``    left/right CameraInfo dicts (K, D, R, P, size)
- ``camera_pose.yaml``    ``world_from_optical``: the left optical frame in the table frame
- ``hand_track.json``     21-landmark hand track (pixels + per-landmark depth, camera K)
- ``ground_truth.json``   object centres/categories (world) and the hand's true gripper path (world),
                          grasp and release frames
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import cv2
import numpy as np
import yaml

from ..projection.hand_track import save_track
from ..projection.synthetic_scene import apply_speckle, capture_stereo, synthesize_grasp_demo
from ..robots.transforms import matrix_to_pose, quat_to_matrix
from ..world.builder import World
from ..world.scene import Scene

HERE = Path(__file__).resolve().parent
IMAGE_SIZE = (512, 640)                # (H, W)
SPECKLE_SEED = 0
DEMO_SEED = 0
SCENE = {
    "name": "real2sim_demo",
    "robot": {"name": "wx250s", "base_pose": [-0.3, 0.0, 0.0, 0.0, 0.0, 0.0, 1.0]},
    "table": {"size": [1.2, 0.9, 0.05], "height": 0.0, "color": [0.85, 0.72, 0.55, 1.0]},
    "background": {"texture": "grey_floor"},
    "cameras": {"stereo": {"position": [0.4, 0.0, 0.45], "look_at": [0.0, 0.0, 0.0], "baseline": 0.05,
                           "width": IMAGE_SIZE[1], "height": IMAGE_SIZE[0], "hfov_deg": 75.0}},
    "objects": [
        {"name": "target", "category": "box", "asset": "box_small", "pose": [0.0, 0.0, 0.0, 0, 0, 0.2588, 0.9659],
         "role": "target"},
        {"name": "can", "category": "can", "asset": "can_small", "pose": [0.02, 0.17, 0.0, 0, 0, 0, 1]},
        {"name": "cup", "category": "cup", "asset": "cup_small", "pose": [0.02, -0.17, 0.0, 0, 0, 0, 1]},
        {"name": "bottle", "category": "bottle", "asset": "bottle_small", "pose": [0.15, 0.08, 0.0, 0, 0, 0, 1]},
    ],
}


def _round(values, digits: int = 6) -> list:
    return np.round(np.asarray(values, dtype=float), digits).tolist()


def make(out_dir: Path = HERE) -> list[Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    scene = Scene.from_dict(SCENE)
    world = World.build(scene, renderer="tiny")
    try:
        apply_speckle(world, SPECKLE_SEED)
        cap = capture_stereo(world)
        demo = synthesize_grasp_demo(world, "target", seed=DEMO_SEED)
        objects = []
        for obj in scene.objects:
            h = world.object(obj.name)
            pose = world.object_pose(obj.name)
            centre = pose[:3] + quat_to_matrix(pose[3:]) @ np.array([h.body_offset[0], h.body_offset[1], 0.0])
            objects.append({"name": obj.name, "asset": obj.asset, "category": obj.category,
                            "centre_world": _round(centre)})
        world_from_optical = world.rig.optical_pose("left")
    finally:
        world.close()
    wfb = cap.world_from_base
    written = [scene.save(out_dir / "scene.yaml")]
    for name, rgb in (("left.png", cap.left_rgb), ("right.png", cap.right_rgb)):
        path = out_dir / name
        if not cv2.imwrite(str(path), rgb[..., ::-1], [cv2.IMWRITE_PNG_COMPRESSION, 9]):
            raise OSError(f"could not write {path}")
        written.append(path)
    info = {"left": cap.left_info, "right": cap.right_info}
    written.append(_write_yaml(out_dir / "camera_info.yaml", info))
    written.append(_write_yaml(out_dir / "camera_pose.yaml", {
        "parent_frame": "world", "child_frame": "stereo_left_optical_frame",
        "world_from_optical": _round(matrix_to_pose(world_from_optical))}))
    written.append(save_track(demo.track, out_dir / "hand_track.json"))
    gripper_world = demo.gripper_positions @ wfb[:3, :3].T + wfb[:3, 3]
    truth = {"objects": objects, "demo": {"object": "target", "gripper_positions_world": _round(gripper_world),
                                         "grasp_frame": demo.grasp_frame, "release_frame": demo.release_frame}}
    path = out_dir / "ground_truth.json"
    path.write_text(json.dumps(truth))
    written.append(path)
    return written


def _write_yaml(path: Path, data: dict) -> Path:
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=HERE, help="output folder (default: this package)")
    args = parser.parse_args(argv)
    for path in make(args.out):
        print(f"{path}  {path.stat().st_size} bytes")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
