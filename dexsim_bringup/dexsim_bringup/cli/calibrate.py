"""`dexsim calibrate hand-eye`: the stereo camera's pose in the robot base frame from an ArUco
marker (DICT_4X4_50, id 7) held by the gripper at 10+ arm poses (eye-to-hand; see
dexsim_sim.projection.hand_eye). Input: ``--captures FILE.npz`` with ``images`` (N, H, W, 3) RGB
uint8 from the left camera, ``joint_positions`` (N, arm joints) rad in the registry's joint order
and ``K`` (3, 3); or ``--bag BAG``, a rosbag2 of the left image, its camera_info and /joint_states
(e.g. ``dexsim up real ... --record``) in which the arm stops at each pose (the images where it
stood still, one per pose); or ``--sim``, which renders the marker on the simulated arm and also reports the
error against the simulator's known camera pose. ``--config`` writes the result into the robot's
config YAML (camera.pose_in_base, hand_eye_calibrated: true); nothing is written when it fails."""
from __future__ import annotations

import json
import os
from pathlib import Path


def register(sub) -> None:
    p = sub.add_parser("calibrate", help="hand-eye calibration of the stereo camera", description=__doc__)
    what = p.add_subparsers(dest="what", metavar="WHAT", required=True)
    he = what.add_parser("hand-eye", help="camera pose in the robot base frame from a marker on the gripper",
                         description=__doc__)
    he.add_argument("--robot", required=True, help="robot name (dexsim robots)")
    src = he.add_mutually_exclusive_group(required=True)
    src.add_argument("--captures", help="npz with images, joint_positions, K (see above)")
    src.add_argument("--bag", help="rosbag2 with /stereo/left/image_rect, /stereo/left/camera_info, /joint_states")
    src.add_argument("--sim", action="store_true", help="render the captures on the simulated arm")
    he.add_argument("--poses", type=int, default=15, help="--sim: arm poses to render (default 15)")
    he.add_argument("--seed", type=int, default=0, help="--sim: seed of the sampled arm poses")
    he.add_argument("--renderer", default="tiny", choices=("tiny", "egl"), help="--sim: renderer (default tiny)")
    he.add_argument("--save-captures", help="--sim: also write the rendered captures as an npz")
    he.add_argument("--marker-size", type=float, default=0.06, help="black side of the marker, m (default 0.06)")
    he.add_argument("--config", help="write the calibrated pose into this robot config YAML")
    he.add_argument("--json", action="store_true", help="print the result as one JSON object")
    he.set_defaults(func=run)


def _load_captures(path: str, robot: str):
    import numpy as np

    from . import CLIError

    try:
        with np.load(path) as data:
            images, q, K = data["images"], data["joint_positions"], data["K"]
    except (OSError, ValueError) as exc:
        raise CLIError(f"--captures {path}: not a readable npz ({exc})") from None
    except KeyError as exc:
        raise CLIError(f"--captures {path}: missing array {exc.args[0].split()[0]} (needs images, joint_positions, "
                       "K)") from None
    return _checked(f"--captures {path}", robot, images, q, K)


def _bag_captures(path: str, robot: str):
    import numpy as np

    from dexsim_bringup.bag_dataset import BagConversionError, captures_from_bag

    from . import CLIError

    try:
        images, q, K = captures_from_bag(path, robot)
    except BagConversionError as exc:
        raise CLIError(f"--bag: {exc}") from None
    if not images:
        raise CLIError(f"--bag {path}: no image where the arm stood still (stop the arm at each pose for "
                       "a moment while the camera records)")
    return _checked(f"--bag {path}", robot, np.stack(images), q, K)


def _checked(source: str, robot: str, images, q, K):
    """(base -> end-effector poses, images, K) after checking shapes and values."""
    import numpy as np

    from dexsim_sim.robots.kinematics import arm_chain
    from dexsim_sim.robots.registry import get_robot

    from . import CLIError

    chain = arm_chain(get_robot(robot))
    if images.ndim != 4 or images.shape[-1] != 3 or images.dtype != np.uint8:
        raise CLIError(f"{source}: images must be (N, H, W, 3) uint8, got {images.shape} {images.dtype}")
    if q.shape != (len(images), len(chain.joint_names)):
        raise CLIError(f"{source}: joint_positions must be ({len(images)}, {len(chain.joint_names)}) "
                       f"for {robot}'s {list(chain.joint_names)}, got {q.shape}")
    if not np.all(np.isfinite(q)):
        bad = sorted({int(i) for i in np.argwhere(~np.isfinite(q))[:, 0]})
        raise CLIError(f"{source}: joint_positions of capture(s) {bad} contain NaN or inf")
    if K.shape != (3, 3) or not np.all(np.isfinite(K)) or K[0, 0] <= 0 or K[1, 1] <= 0:
        raise CLIError(f"{source}: K must be a 3x3 camera matrix with positive focal lengths, got {K.tolist()}")
    return [chain.fk(qi) for qi in q], list(images), K


def _write_config(path: str, robot: str, pose7) -> None:
    import yaml

    from dexsim_bringup.hardware import HardwareConfigError, load_robot_config
    from dexsim_sim.documents import DocumentError, read_document

    from . import CLIError

    p = Path(path)
    try:
        doc = read_document(p, what="--config")
    except DocumentError as exc:
        raise CLIError(str(exc)) from None
    try:
        camera = doc["dexsim_policy"]["ros__parameters"]["camera"]
    except (KeyError, TypeError) as exc:
        raise CLIError(f"--config {path}: not a robot config (no dexsim_policy.ros__parameters.camera: {exc!r})") from None
    camera["pose_in_base"] = [round(float(v), 6) for v in pose7]
    camera["hand_eye_calibrated"] = True
    tmp = p.with_name(p.name + ".tmp")
    tmp.write_text(yaml.safe_dump(doc, sort_keys=False, default_flow_style=None))
    try:
        load_robot_config(robot, tmp)          # what the graph will read must validate first
    except HardwareConfigError as exc:
        tmp.unlink()
        raise CLIError(f"--config {path}: the result does not validate: {exc}") from None
    os.replace(tmp, p)


def run(args) -> int:
    from dexsim_sim.projection import hand_eye as he
    from dexsim_sim.robots.registry import list_robots
    from dexsim_sim.robots.transforms import matrix_to_pose

    from . import CLIError

    if args.robot not in {r.name for r in list_robots()}:
        raise CLIError(f"--robot: unknown robot {args.robot!r} (see dexsim robots)")
    if not args.marker_size > 0:
        raise CLIError(f"--marker-size: expected > 0 m, got {args.marker_size}")
    truth = None
    try:
        if args.sim:
            if args.poses < he.MIN_POSES:
                raise CLIError(f"--poses: expected >= {he.MIN_POSES}, got {args.poses}")
            base_to_ee, images, K, truth, _, joints = he.simulated_captures(
                args.robot, args.poses, args.seed, renderer=args.renderer, marker_side_m=args.marker_size)
            if args.save_captures:
                import numpy as np

                np.savez_compressed(args.save_captures, images=np.stack(images), K=K, joint_positions=joints)
        elif args.bag:
            base_to_ee, images, K = _bag_captures(args.bag, args.robot)
        else:
            base_to_ee, images, K = _load_captures(args.captures, args.robot)
        result = he.calibrate(base_to_ee, images, K, args.marker_size)
    except he.HandEyeError as exc:
        raise CLIError(str(exc)) from None
    pose = matrix_to_pose(result.base_to_camera_link)
    out = {"robot": args.robot, "poses_used": result.poses, "poses_given": len(images),
           "pose_in_base": [float(v) for v in pose], "frame": "stereo_left_link",
           "residual_mm": result.residual_m * 1e3, "residual_deg": result.residual_deg}
    if truth is not None:
        err_m, err_deg = he.pose_error(result.base_to_optical, truth)
        out.update(error_mm=err_m * 1e3, error_deg=err_deg)
    if args.config:
        _write_config(args.config, args.robot, pose)
        out["config"] = str(args.config)
    if args.json:
        print(json.dumps(out))
    else:
        print(f"hand-eye ({args.robot}): {result.poses} of {len(images)} poses with the marker; "
              f"residual {out['residual_mm']:.1f} mm / {result.residual_deg:.2f} deg")
        print(f"camera (stereo_left_link) in base_link: {[round(v, 4) for v in out['pose_in_base']]}")
        if truth is not None:
            print(f"against the simulator's camera: {out['error_mm']:.1f} mm / {out['error_deg']:.2f} deg")
        if args.config:
            print(f"written: {args.config} (camera.pose_in_base, hand_eye_calibrated: true)")
    return 0
