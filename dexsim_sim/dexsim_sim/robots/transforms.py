"""Pure-numpy rigid transforms: URDF rpy, quaternions (x, y, z, w), 7-vector poses, 4x4 matrices."""
from __future__ import annotations

import numpy as np

_EPS_NORM = 1e-12  # below this a quaternion/axis norm is treated as zero


def rot_x(angle: float) -> np.ndarray:
    c, s = np.cos(angle), np.sin(angle)
    return np.array([[1.0, 0.0, 0.0], [0.0, c, -s], [0.0, s, c]])


def rot_y(angle: float) -> np.ndarray:
    c, s = np.cos(angle), np.sin(angle)
    return np.array([[c, 0.0, s], [0.0, 1.0, 0.0], [-s, 0.0, c]])


def rot_z(angle: float) -> np.ndarray:
    c, s = np.cos(angle), np.sin(angle)
    return np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])


def rpy_to_matrix(rpy) -> np.ndarray:
    """URDF convention: fixed-axis roll about x, then pitch about y, then yaw about z."""
    r, p, y = (float(v) for v in rpy)
    return rot_z(y) @ rot_y(p) @ rot_x(r)


def matrix_to_rpy(rot: np.ndarray) -> tuple[float, float, float]:
    """Inverse of :func:`rpy_to_matrix` (pitch in [-pi/2, pi/2])."""
    rot = np.asarray(rot, dtype=float)
    pitch = float(np.arcsin(np.clip(-rot[2, 0], -1.0, 1.0)))
    if abs(abs(rot[2, 0]) - 1.0) < 1e-9:  # gimbal lock: put everything into yaw
        roll = 0.0
        yaw = float(np.arctan2(-rot[0, 1], rot[1, 1]))
    else:
        roll = float(np.arctan2(rot[2, 1], rot[2, 2]))
        yaw = float(np.arctan2(rot[1, 0], rot[0, 0]))
    return roll, pitch, yaw


def make_transform(rot: np.ndarray | None = None, xyz=(0.0, 0.0, 0.0)) -> np.ndarray:
    out = np.eye(4)
    if rot is not None:
        out[:3, :3] = rot
    out[:3, 3] = xyz
    return out


def axis_angle_to_matrix(axis, angle) -> np.ndarray:
    """Rodrigues' formula; ``angle`` may be an array (returns ``(..., 3, 3)``)."""
    axis = np.asarray(axis, dtype=float)
    axis = axis / np.linalg.norm(axis)
    angle = np.asarray(angle, dtype=float)
    k = np.array([[0.0, -axis[2], axis[1]], [axis[2], 0.0, -axis[0]], [-axis[1], axis[0], 0.0]])
    s = np.sin(angle)[..., None, None]
    c = np.cos(angle)[..., None, None]
    return np.eye(3) + s * k + (1.0 - c) * (k @ k)


def quat_to_matrix(quat) -> np.ndarray:
    """Quaternion (x, y, z, w) to a 3x3 rotation matrix."""
    x, y, z, w = np.asarray(quat, dtype=float) / np.linalg.norm(quat)
    return np.array([
        [1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)],
        [2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)],
        [2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)],
    ])


def matrix_to_quat(rot: np.ndarray) -> np.ndarray:
    """3x3 rotation matrix to a unit quaternion (x, y, z, w) with w >= 0."""
    m = np.asarray(rot, dtype=float)
    trace = m[0, 0] + m[1, 1] + m[2, 2]
    if trace > 0.0:
        s = 2.0 * np.sqrt(trace + 1.0)
        q = np.array([(m[2, 1] - m[1, 2]) / s, (m[0, 2] - m[2, 0]) / s, (m[1, 0] - m[0, 1]) / s, 0.25 * s])
    elif m[0, 0] > m[1, 1] and m[0, 0] > m[2, 2]:
        s = 2.0 * np.sqrt(1.0 + m[0, 0] - m[1, 1] - m[2, 2])
        q = np.array([0.25 * s, (m[0, 1] + m[1, 0]) / s, (m[0, 2] + m[2, 0]) / s, (m[2, 1] - m[1, 2]) / s])
    elif m[1, 1] > m[2, 2]:
        s = 2.0 * np.sqrt(1.0 + m[1, 1] - m[0, 0] - m[2, 2])
        q = np.array([(m[0, 1] + m[1, 0]) / s, 0.25 * s, (m[1, 2] + m[2, 1]) / s, (m[0, 2] - m[2, 0]) / s])
    else:
        s = 2.0 * np.sqrt(1.0 + m[2, 2] - m[0, 0] - m[1, 1])
        q = np.array([(m[0, 2] + m[2, 0]) / s, (m[1, 2] + m[2, 1]) / s, 0.25 * s, (m[1, 0] - m[0, 1]) / s])
    q = q / max(np.linalg.norm(q), _EPS_NORM)
    return -q if q[3] < 0 else q


def quat_multiply(a, b) -> np.ndarray:
    """Hamilton product ``a * b`` of (x, y, z, w) quaternions: rotation ``b`` then ``a``."""
    ax, ay, az, aw = a
    bx, by, bz, bw = b
    return np.array([aw * bx + ax * bw + ay * bz - az * by, aw * by - ax * bz + ay * bw + az * bx,
                     aw * bz + ax * by - ay * bx + az * bw, aw * bw - ax * bx - ay * by - az * bz])


def pose_to_matrix(pose7) -> np.ndarray:
    """7-vector ``(x, y, z, qx, qy, qz, qw)`` to a 4x4 transform."""
    pose7 = np.asarray(pose7, dtype=float)
    if pose7.shape != (7,):
        raise ValueError(f"pose: expected 7 numbers, got shape {pose7.shape}")
    return make_transform(quat_to_matrix(pose7[3:]), pose7[:3])


def matrix_to_pose(tf: np.ndarray) -> np.ndarray:
    """4x4 transform to a 7-vector ``(x, y, z, qx, qy, qz, qw)``."""
    tf = np.asarray(tf, dtype=float)
    return np.concatenate([tf[:3, 3], matrix_to_quat(tf[:3, :3])])


def rotation_error(rot_target: np.ndarray, rot_current: np.ndarray) -> np.ndarray:
    """Rotation vector (base frame) taking ``rot_current`` to ``rot_target``; works on ``(..., 3, 3)``."""
    r_err = rot_target @ np.swapaxes(rot_current, -1, -2)
    cos = np.clip((np.trace(r_err, axis1=-2, axis2=-1) - 1.0) / 2.0, -1.0, 1.0)
    angle = np.arccos(cos)
    vee = np.stack([r_err[..., 2, 1] - r_err[..., 1, 2],
                    r_err[..., 0, 2] - r_err[..., 2, 0],
                    r_err[..., 1, 0] - r_err[..., 0, 1]], axis=-1)
    sin = np.sin(angle)
    small = sin < 1e-6
    scale = np.where(small, 0.5, angle / (2.0 * np.where(small, 1.0, sin)))
    out = vee * scale[..., None]
    near_pi = small & (cos < 0.0)
    if np.any(near_pi):  # angle ~ pi: axis from the symmetric part
        flat_err = np.reshape(r_err, (-1, 3, 3))
        flat_out = np.reshape(out, (-1, 3)).copy()
        for i in np.flatnonzero(np.reshape(near_pi, -1)):
            sym = (flat_err[i] + np.eye(3)) / 2.0
            col = int(np.argmax(np.diag(sym)))
            axis = sym[:, col] / np.sqrt(max(sym[col, col], _EPS_NORM))
            flat_out[i] = axis * np.pi
        out = flat_out.reshape(out.shape)
    return out


def rotation_angle(rot_a: np.ndarray, rot_b: np.ndarray) -> float:
    """Angle in radians between two rotations."""
    cos = (np.trace(rot_a @ rot_b.T) - 1.0) / 2.0
    return float(np.arccos(np.clip(cos, -1.0, 1.0)))
