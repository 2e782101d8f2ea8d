"""`dexsim project {scene,demo}`: Real2Sim projection of a real stereo scene and of a human
demonstration (hand-keypoint track) into the simulator. With no inputs given, both modes use the
bundled generated demo inputs (dexsim_sim/demo_data), so `dexsim project scene --out DIR` works."""
from __future__ import annotations

import json

from . import CLIError

DEFAULT_ROBOT = "wx250s"


def register(sub) -> None:
    p = sub.add_parser("project", help="Real2Sim: project a stereo scene or a hand demonstration", description=__doc__)
    modes = p.add_subparsers(dest="mode", metavar="MODE", required=True)
    s = modes.add_parser("scene", help="stereo pair -> scene YAML + report JSON + overlay PNG",
                         description="Stereo pair (or left image + depth) -> a scene file of matched library assets.")
    s.add_argument("--left", default=None, help="left rectified image (default: bundled demo)")
    s.add_argument("--right", default=None, help="right rectified image (default: bundled demo)")
    s.add_argument("--depth", default=None, help="depth image instead of the right image (.npy float32 m)")
    _common(s)
    s.add_argument("--name", default="projected_scene", help="scene name and output file stem")
    s.add_argument("--joints", default=None, help="the robot's joint state when the pair was taken, "
                                                  "name=value,... (rad, m); default: home")
    s.add_argument("--no-robot-mask", action="store_true",
                   help="do not mask the robot's own pixels (from its URDF at --joints) before clustering")
    s.set_defaults(func=run_scene)
    d = modes.add_parser("demo", help="hand track -> gripper keyposes JSON + path PNG",
                         description="21-landmark hand track -> parallel-gripper keyposes in the robot base frame.")
    src = d.add_mutually_exclusive_group()
    src.add_argument("--track", default=None, help="hand track JSON (default: bundled demo)")
    src.add_argument("--video", default=None, help="video of the demonstration (MP4, ...): MediaPipe Hands extracts "
                                                   "the track (written as hand_track.json); give --depth-dir for 3-D")
    d.add_argument("--depth-dir", default=None, help="per-frame depth images <frame:06d>.npy (m) / .png (mm)")
    d.add_argument("--image", default=None, help="image to draw the path on (default: bundled left image, "
                                                 "else a blank canvas)")
    _common(d)
    d.set_defaults(func=run_demo)


def _common(p) -> None:
    p.add_argument("--camera-info", default=None, help="camera info YAML/JSON (default: bundled demo)")
    p.add_argument("--camera-pose", default=None,
                   help="camera pose file (base_from_optical or world_from_optical) or 7 numbers "
                        "x,y,z,qx,qy,qz,qw of the left optical frame in the robot base frame (default: bundled demo)")
    p.add_argument("--robot", default=DEFAULT_ROBOT, help=f"robot (default {DEFAULT_ROBOT})")
    p.add_argument("--base-pose", default=None, help="robot base pose in the world, 7 numbers "
                                                     "(default: the robot's grasp-scene pose)")
    p.add_argument("--out", required=True, help="output folder")


def _inputs(args, keys: tuple[str, ...]) -> dict:
    """The given paths; a missing one falls back to the bundled demo input."""
    from dexsim_sim.projection.pipeline import demo_inputs

    given = {k: getattr(args, k) for k in keys}
    if all(given.values()):
        return given
    bundled = demo_inputs()
    return {k: v if v else str(bundled[k]) for k, v in given.items()}


def _base_pose(args):
    from dexsim_sim.projection.pipeline import default_base_pose, parse_pose7

    if args.base_pose is not None:
        return tuple(parse_pose7(args.base_pose, "--base-pose"))
    return default_base_pose(args.robot)


def _joints(text: str | None) -> dict[str, float] | None:
    """--joints 'name=value,...' (rad / m) -> dict; None = the robot at home."""
    if not text:
        return None
    out = {}
    for item in text.split(","):
        name, sep, value = item.partition("=")
        try:
            out[name.strip()] = float(value)
        except ValueError:
            sep = ""
        if not sep or not name.strip():
            raise CLIError(f"--joints: expected name=value[,name=value...], got {item!r}")
    return out


def run_scene(args) -> int:
    from dexsim_sim.projection.pipeline import (INPUT_ERRORS, load_camera_info, load_camera_pose, load_depth_npy,
                                                load_image, project_stereo, write_scene_outputs)
    from dexsim_sim.projection.stereo import CameraInfoError, ImageSizeError
    from dexsim_sim.robots.registry import UnknownRobotError

    try:
        keys = ("left", "camera_info", "camera_pose") + (() if args.depth else ("right",))
        paths = _inputs(args, keys)
        base_pose = _base_pose(args)
        left_info, right_info = load_camera_info(paths["camera_info"])
        depth = load_depth_npy(args.depth, "--depth") if args.depth else None
        right = None if args.depth else load_image(paths["right"], "right image")
        joints = _joints(args.joints)
        result = project_stereo(load_image(paths["left"], "left image"), right, left_info, right_info,
                                load_camera_pose(paths["camera_pose"], base_pose), base_pose, depth,
                                robot=None if args.no_robot_mask else args.robot, joints=joints)
        write_scene_outputs(result, args.out, args.name, args.robot, base_pose)
    except ImageSizeError as exc:
        raise CLIError(f"{paths['left']} vs --camera-info {paths['camera_info']}: {exc}") from None
    except CameraInfoError as exc:
        raise CLIError(f"--camera-info {paths['camera_info']}: {exc}") from None
    except INPUT_ERRORS + (UnknownRobotError,) as exc:
        raise CLIError(str(exc)) from exc
    report = result.projection.report()
    print(json.dumps({"scene_file": str(result.scene_file), "overlay": str(result.overlay_file),
                      "objects": [f"{o['name']}: {o['asset']} ({o['confidence']:.2f})" for o in report["objects"]],
                      "unmatched": len(report["unmatched"]), "robot_pixels_masked": result.robot_pixels,
                      "seconds": round(result.seconds, 3)}, indent=2))
    return 0


def run_demo(args) -> int:
    import time

    import numpy as np

    from dexsim_sim.projection.hand_track import load_track
    from dexsim_sim.projection.pipeline import (INPUT_ERRORS, demo_inputs, load_camera_info, load_camera_pose,
                                                load_image, project_demo, track_with_camera, write_demo_outputs)
    from dexsim_sim.robots.registry import UnknownRobotError

    try:
        if args.video:
            if not (args.camera_info and args.camera_pose):
                raise CLIError("--video: give the video camera's --camera-info and --camera-pose")
            paths = {"camera_info": args.camera_info, "camera_pose": args.camera_pose}
        else:
            paths = _inputs(args, ("track", "camera_info", "camera_pose"))
        base_pose = _base_pose(args)
        info, _ = load_camera_info(paths["camera_info"])
        base_from_optical = load_camera_pose(paths["camera_pose"], base_pose)
        if args.video:
            from pathlib import Path

            from dexsim_sim.projection.hand_track import mediapipe_extract, save_track

            track = track_with_camera(mediapipe_extract(args.video), info)
        else:
            track = track_with_camera(load_track(paths["track"]), info)
        t0 = time.perf_counter()
        seq = project_demo(track, base_from_optical, info, args.depth_dir)
        seconds = time.perf_counter() - t0
        if args.image:
            image = load_image(args.image)
        elif not args.track and not args.video:
            image = load_image(demo_inputs()["left"], "left image")
        else:
            image = np.full((track.image_size[1], track.image_size[0], 3), 255, np.uint8)
        keyposes, overlay = write_demo_outputs(seq, args.out, image, track.K, base_from_optical, args.robot)
        if args.video:               # the extracted track beside the keyposes (written once both succeeded)
            save_track(track, Path(args.out) / "hand_track.json")
    except INPUT_ERRORS + (UnknownRobotError, ImportError) as exc:
        raise CLIError(str(exc)) from exc
    print(json.dumps({"keyposes": str(keyposes), "path_overlay": str(overlay), "labels": seq.labels,
                      "frames": seq.frames, "seconds_per_frame": round(seconds / len(track.frames), 5)}, indent=2))
    return 0
