"""Hand-eye calibration of a fixed stereo camera (eye-to-hand): where the camera sits in the robot
base frame, from an ArUco marker rigidly held by the gripper and seen at several arm poses.

For every pose i the arm's forward kinematics give ``E_i`` (base_link -> end effector) and the
marker's detection gives ``C_i`` (left optical frame -> marker). With ``X`` the camera (base_link ->
optical frame) and ``Y`` the marker on the gripper (end effector -> marker), both unknown,
``X C_i = E_i Y``. Eliminating ``Y`` between two poses gives ``A X = X B`` with
``A = E_j E_i^-1`` and ``B = C_j C_i^-1`` (Park and Martin 1994): the rotation of ``X`` maps every
``log R_B`` onto ``log R_A`` (solved in closed form by SVD, the Kabsch problem). From there every
pose is used at once: the rotations of ``X`` and ``Y`` alternately as the mean rotations that make
``R_X R_Ci = R_Ei R_Y``, then both translations from the stacked linear equations
``t_X - R_Ei t_Y = t_Ei - R_X t_Ci`` (better conditioned than the pairwise translation system). Residuals of ``X C_i`` against ``E_i Y`` say how well the poses agree.

The marker is found and its pose measured with OpenCV's ArUco detector and ``solvePnP``
(IPPE_SQUARE). ``simulated_captures`` renders the same marker on the simulated arm, so the whole
chain is checked against the simulator's known camera pose.
"""
from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

from ..robots.transforms import make_transform, matrix_to_pose, rotation_angle, rotation_error
from ..world.camera import LINK_TO_OPTICAL

MARKER_DICTIONARY = "DICT_4X4_50"
MARKER_ID = 7
MIN_POSES = 4                 # below this AX = XB is not determined in practice
REFINE_ITERATIONS = 20
MIN_ROTATION_RAD = 0.05       # pose pairs that barely rotate carry no information about R_X


class HandEyeError(ValueError):
    """Captures that cannot give a calibration (too few poses, degenerate motion, no marker)."""


@dataclass(frozen=True)
class HandEyeResult:
    base_to_optical: np.ndarray     # 4x4 X: base_link -> left optical frame
    ee_to_marker: np.ndarray        # 4x4 Y
    poses: int
    residual_m: float               # rms translation of X C_i - E_i Y
    residual_deg: float             # rms rotation angle of the same

    @property
    def base_to_camera_link(self) -> np.ndarray:
        """base_link -> the camera's link frame (``stereo_left_link``, x forward, REP-103)."""
        return self.base_to_optical @ np.linalg.inv(make_transform(LINK_TO_OPTICAL))


def _aruco():
    import cv2

    dictionary = cv2.aruco.getPredefinedDictionary(getattr(cv2.aruco, MARKER_DICTIONARY))
    params = cv2.aruco.DetectorParameters()
    params.cornerRefinementMethod = cv2.aruco.CORNER_REFINE_APRILTAG   # measured: 0.4 mm per pose vs 3.7 (SUBPIX)
    return cv2, dictionary, cv2.aruco.ArucoDetector(dictionary, params)


def marker_image(pixels: int = 240, border: float = 0.25, marker_id: int = MARKER_ID) -> np.ndarray:
    """Grey uint8 image of the marker with a white margin of ``border`` x its side on each edge
    (the quiet zone the detector needs)."""
    cv2, dictionary, _ = _aruco()
    inner = cv2.aruco.generateImageMarker(dictionary, marker_id, pixels)
    pad = int(round(pixels * border))
    return np.pad(inner, pad, constant_values=255)


def detect_marker(rgb: np.ndarray, K: np.ndarray, side_m: float, marker_id: int = MARKER_ID) -> np.ndarray | None:
    """4x4 optical frame -> marker (x right, y up on its printed face, z out of it) of the marker
    with ``marker_id`` and black side ``side_m`` m in an RGB image, or None when it is not found."""
    cv2, _, detector = _aruco()
    gray = cv2.cvtColor(np.ascontiguousarray(rgb), cv2.COLOR_RGB2GRAY)
    corners, ids, _ = detector.detectMarkers(gray)
    if ids is None:
        return None
    hits = [c for c, i in zip(corners, ids.ravel()) if int(i) == marker_id]
    if not hits:
        return None
    h = side_m / 2.0
    obj = np.array([[-h, h, 0.0], [h, h, 0.0], [h, -h, 0.0], [-h, -h, 0.0]])
    ok, rvec, tvec = cv2.solvePnP(obj, hits[0].reshape(4, 2).astype(np.float64), np.asarray(K, float), None,
                                  flags=cv2.SOLVEPNP_IPPE_SQUARE)
    if not ok:
        return None
    out = np.eye(4)
    out[:3, :3] = cv2.Rodrigues(rvec)[0]
    out[:3, 3] = tvec.ravel()
    return out


def _kabsch(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """Rotation R minimising sum |dst_i - R src_i|^2."""
    u, _, vt = np.linalg.svd(src.T @ dst)
    d = np.sign(np.linalg.det(vt.T @ u.T))
    return vt.T @ np.diag([1.0, 1.0, d]) @ u.T


def _mean_rotation(rots: Sequence[np.ndarray]) -> np.ndarray:
    u, _, vt = np.linalg.svd(np.sum(rots, axis=0))
    return u @ np.diag([1.0, 1.0, np.sign(np.linalg.det(u @ vt))]) @ vt


def solve_eye_to_hand(base_to_ee: Sequence[np.ndarray], optical_to_marker: Sequence[np.ndarray]) -> HandEyeResult:
    """X (base_link -> optical) and Y (end effector -> marker) from paired poses (module doc)."""
    E = [np.asarray(e, float) for e in base_to_ee]
    C = [np.asarray(c, float) for c in optical_to_marker]
    if len(E) != len(C):
        raise HandEyeError(f"hand-eye: {len(E)} arm poses but {len(C)} marker poses")
    if len(E) < MIN_POSES:
        raise HandEyeError(f"hand-eye: {len(E)} poses with the marker seen, need at least {MIN_POSES}")
    alphas, betas, pairs = [], [], []
    for i in range(len(E)):
        for j in range(i + 1, len(E)):
            A = E[j] @ np.linalg.inv(E[i])
            B = C[j] @ np.linalg.inv(C[i])
            a = rotation_error(A[:3, :3], np.eye(3))
            b = rotation_error(B[:3, :3], np.eye(3))
            if np.linalg.norm(a) < MIN_ROTATION_RAD:
                continue
            alphas.append(a)
            betas.append(b)
            pairs.append((A, B))
    if len(pairs) < 2:
        raise HandEyeError("hand-eye: the arm poses barely rotate the marker; vary the wrist between poses")
    alphas, betas = np.array(alphas), np.array(betas)
    if np.linalg.matrix_rank(alphas, tol=0.05) < 3:     # rotations about one axis only: X not unique
        raise HandEyeError("hand-eye: every pose change rotates about the same axis; vary the arm more")
    r_x = _kabsch(betas, alphas)
    # then every pose at once: R_X, R_Y alternately as the mean rotations that make R_X R_Ci = R_Ei R_Y,
    # and the translations from the 3n linear equations t_X - R_Ei t_Y = t_Ei - R_X t_Ci
    for _ in range(REFINE_ITERATIONS):
        r_y = _mean_rotation([e[:3, :3].T @ r_x @ c[:3, :3] for e, c in zip(E, C)])
        r_x = _mean_rotation([e[:3, :3] @ r_y @ c[:3, :3].T for e, c in zip(E, C)])
    lhs = np.vstack([np.hstack([np.eye(3), -e[:3, :3]]) for e in E])
    rhs = np.concatenate([e[:3, 3] - r_x @ c[:3, 3] for e, c in zip(E, C)])
    t = np.linalg.lstsq(lhs, rhs, rcond=None)[0]
    X, Y = make_transform(r_x, t[:3]), make_transform(r_y, t[3:])
    lhs_poses = [X @ c for c in C]
    rhs_poses = [e @ Y for e in E]
    res_t = [np.linalg.norm(a[:3, 3] - b[:3, 3]) for a, b in zip(lhs_poses, rhs_poses)]
    res_r = [np.degrees(rotation_angle(a[:3, :3], b[:3, :3])) for a, b in zip(lhs_poses, rhs_poses)]
    return HandEyeResult(X, Y, len(E), float(np.sqrt(np.mean(np.square(res_t)))),
                         float(np.sqrt(np.mean(np.square(res_r)))))


# ---------------------------------------------------------------- simulated captures
def _marker_mesh(directory: Path, size_m: float) -> tuple[str, str]:
    """An OBJ square of side ``size_m`` in its xy-plane facing +z, textured with the marker."""
    import cv2

    png = directory / "marker.png"
    cv2.imwrite(str(png), marker_image())       # PyBullet maps image row 0 to v = 1: not mirrored
    h = size_m / 2.0
    obj = directory / "marker.obj"
    obj.write_text("\n".join([f"v {-h} {-h} 0", f"v {h} {-h} 0", f"v {h} {h} 0", f"v {-h} {h} 0",
                              "vt 0 0", "vt 1 0", "vt 1 1", "vt 0 1", "vn 0 0 1",
                              "f 1/1/1 2/2/1 3/3/1", "f 1/1/1 3/3/1 4/4/1", ""]))
    return str(obj), str(png)


def simulated_captures(robot: str = "wx250s", poses: int = 15, seed: int = 0, image_size=(512, 640),
                       renderer: str = "tiny", marker_side_m: float = 0.06,
                       ee_to_marker: np.ndarray | None = None, candidates: int = 4000):
    """Render the marker held by the simulated ``robot`` at ``poses`` random arm poses where it
    faces the camera. Returns (base_to_ee list, images, K, true base_to_optical, true ee_to_marker,
    joint positions (poses, arm joints));
    the arm is drawn too, so the arm may hide the marker in some images (as on the real bench)."""
    import pybullet as p

    from ..env import DexSimEnv
    from ..robots.kinematics import arm_chain

    rng = np.random.default_rng(seed)
    Y = np.asarray(ee_to_marker, float) if ee_to_marker is not None else \
        make_transform(np.array([[0.0, 0.0, 1.0], [0.0, 1.0, 0.0], [-1.0, 0.0, 0.0]]), (0.05, 0.0, 0.0))
    env = DexSimEnv(task="grasp", robot=robot, image_size=tuple(image_size), renderer=renderer)
    try:
        env.reset(seed=seed)
        world = env.world
        spec = world.robot.spec
        chain = arm_chain(spec)
        client = world.client
        base = world.base_matrix()
        optical = world.rig.optical_pose("left")
        true_x = np.linalg.inv(base) @ optical
        for name in list(world.objects):          # an empty table: nothing but the arm in view
            p.resetBasePositionAndOrientation(world.object(name).body, [0, 0, -5], [0, 0, 0, 1], physicsClientId=client)
        with tempfile.TemporaryDirectory(prefix="dexsim_marker_") as tmp:
            mesh, png = _marker_mesh(Path(tmp), marker_side_m * (1.0 + 2 * 0.25))
            shape = p.createVisualShape(p.GEOM_MESH, fileName=mesh, physicsClientId=client)
            body = p.createMultiBody(0, -1, shape, physicsClientId=client)
            p.changeVisualShape(body, -1, textureUniqueId=p.loadTexture(png, physicsClientId=client),
                                rgbaColor=[1, 1, 1, 1], physicsClientId=client)
        lower, upper = np.array(chain.lower), np.array(chain.upper)
        home = np.asarray(spec.home, float)
        q = np.clip(home + rng.uniform(-1.0, 1.0, (candidates, len(home))) * 0.6 * (upper - lower) / 2, lower, upper)
        markers = base @ chain.fk(q) @ Y
        to_cam = optical[:3, 3] - markers[:, :3, 3]
        dist = np.linalg.norm(to_cam, axis=1)
        facing = np.einsum("ij,ij->i", markers[:, :3, 2], to_cam) / dist
        uvz = world.rig.project(markers[:, :3, 3])
        h, w = image_size
        inside = (uvz[:, 2] > 0.2) & (uvz[:, 0] > 0.15 * w) & (uvz[:, 0] < 0.85 * w) & \
                 (uvz[:, 1] > 0.15 * h) & (uvz[:, 1] < 0.85 * h)
        chosen = np.flatnonzero((facing > 0.6) & inside & (dist < 1.2) & (markers[:, 2, 3] > base[2, 3] + 0.08))
        if len(chosen) < poses:
            raise HandEyeError(f"hand-eye (sim): only {len(chosen)} of {candidates} sampled poses show the marker")
        base_to_ee, images, joints = [], [], []
        for k in chosen[:poses]:
            world.set_robot_joints(q[k])
            m7 = matrix_to_pose(markers[k])
            p.resetBasePositionAndOrientation(body, m7[:3].tolist(), m7[3:].tolist(), physicsClientId=client)
            images.append(world.rig.camera.render(client, optical, world.light, depth=False,
                                                  segmentation=False)["rgb"])
            base_to_ee.append(chain.fk(q[k]))
            joints.append(q[k])
        return base_to_ee, images, world.rig.K.copy(), true_x, Y, np.array(joints)
    finally:
        env.close()


def calibrate(base_to_ee: Sequence[np.ndarray], images: Sequence[np.ndarray], K: np.ndarray,
              marker_side_m: float) -> HandEyeResult:
    """Detect the marker in every image and solve; images without it are left out."""
    E, C = [], []
    for e, img in zip(base_to_ee, images):
        c = detect_marker(img, K, marker_side_m)
        if c is not None:
            E.append(e)
            C.append(c)
    if not C:
        raise HandEyeError(f"hand-eye: the marker ({MARKER_DICTIONARY} id {MARKER_ID}) is in none of the "
                           f"{len(images)} images")
    return solve_eye_to_hand(E, C)


def pose_error(estimate: np.ndarray, truth: np.ndarray) -> tuple[float, float]:
    """(translation m, rotation degrees) between two 4x4 poses."""
    return (float(np.linalg.norm(estimate[:3, 3] - truth[:3, 3])),
            float(np.degrees(rotation_angle(estimate[:3, :3], truth[:3, :3]))))


__all__ = ["HandEyeError", "HandEyeResult", "calibrate", "detect_marker", "marker_image", "pose_error",
           "simulated_captures", "solve_eye_to_hand", "MARKER_DICTIONARY", "MARKER_ID"]
