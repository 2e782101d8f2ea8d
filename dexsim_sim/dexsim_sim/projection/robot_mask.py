"""The robot's own pixels in a camera image, from its URDF and joint state, so scene projection never
reports the arm as an object or an unmatched cluster.

The robot alone is posed at ``joints`` in a private PyBullet client (base frame = world) and its
segmentation rendered through the camera's real intrinsics (``K``, any principal point) at
``base_from_optical``; the mask is dilated a few pixels to cover stereo edge bleeding.
"""
from __future__ import annotations

from typing import Mapping

import cv2
import numpy as np
import pybullet as p

from ..robots.registry import get_robot, gripper_joint_positions
from ..world.camera import PinholeCamera

NEAR_M, FAR_M = 0.01, 10.0
DEFAULT_DILATE_PX = 4


def gl_projection(K: np.ndarray, width: int, height: int, near: float = NEAR_M, far: float = FAR_M) -> list[float]:
    """OpenGL projection matrix (column-major, as PyBullet takes it) of pinhole intrinsics ``K`` for
    an image of ``width`` x ``height`` pixels (row 0 at the top, as PyBullet returns images)."""
    fx, fy, cx, cy = K[0, 0], K[1, 1], K[0, 2], K[1, 2]
    m = np.array([[2.0 * fx / width, 0.0, 1.0 - 2.0 * cx / width, 0.0],
                  [0.0, 2.0 * fy / height, 2.0 * cy / height - 1.0, 0.0],
                  [0.0, 0.0, -(far + near) / (far - near), -2.0 * far * near / (far - near)],
                  [0.0, 0.0, -1.0, 0.0]])
    return m.T.reshape(-1).tolist()


def robot_mask(robot: str, base_from_optical: np.ndarray, K: np.ndarray, width: int, height: int,
               joints: Mapping[str, float] | None = None, gripper_gap: float | None = None,
               dilate_px: int = DEFAULT_DILATE_PX) -> np.ndarray:
    """(height, width) bool: pixels showing ``robot`` at ``joints`` (name -> value; missing arm joints
    at home, fingers at ``gripper_gap`` m, default open) seen from the optical frame ``base_from_optical``."""
    spec = get_robot(robot)
    values = dict(zip(spec.arm_joints, spec.home))
    for arm in spec.arms:
        values.update(gripper_joint_positions(spec, spec.gripper_open if gripper_gap is None else gripper_gap, arm.name))
    values.update({k: float(v) for k, v in (joints or {}).items() if k in values})
    client = p.connect(p.DIRECT)
    try:
        body = p.loadURDF(str(spec.urdf), [0.0, 0.0, 0.0], [0.0, 0.0, 0.0, 1.0], useFixedBase=True,
                          physicsClientId=client)
        for j in range(p.getNumJoints(body, physicsClientId=client)):
            name = p.getJointInfo(body, j, physicsClientId=client)[1].decode()
            if name in values:
                p.resetJointState(body, j, values[name], physicsClientId=client)
        _, _, _, _, seg = p.getCameraImage(int(width), int(height), PinholeCamera.view_matrix(np.asarray(base_from_optical, float)),
                                           gl_projection(np.asarray(K, float), int(width), int(height)),
                                           renderer=p.ER_TINY_RENDERER, physicsClientId=client)
    finally:
        p.disconnect(client)
    seg = np.asarray(seg, dtype=np.int64).reshape(int(height), int(width))
    mask = (seg == body).astype(np.uint8)
    if dilate_px > 0:
        mask = cv2.dilate(mask, np.ones((2 * dilate_px + 1, 2 * dilate_px + 1), np.uint8))
    return mask.astype(bool)
