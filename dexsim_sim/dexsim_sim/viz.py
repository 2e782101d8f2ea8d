"""Pictures people would rather see than numbers: stereo pairs with segmentation overlays."""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

OVERLAY_ALPHA = 0.45


def seg_colors(seg: np.ndarray, seed: int = 7) -> np.ndarray:
    """A stable colour per instance id (background -1 and 0 black)."""
    ids = np.unique(seg)
    rng = np.random.default_rng(seed)
    palette = {int(i): rng.integers(40, 256, size=3, dtype=np.uint8) for i in ids if i > 0}
    out = np.zeros((*seg.shape, 3), np.uint8)
    for i, c in palette.items():
        out[seg == i] = c
    return out


def overlay(rgb: np.ndarray, seg: np.ndarray, alpha: float = OVERLAY_ALPHA) -> np.ndarray:
    colors = seg_colors(seg)
    mask = (seg > 0)[..., None]
    blended = (rgb.astype(np.float32) * (1 - alpha) + colors.astype(np.float32) * alpha).astype(np.uint8)
    return np.where(mask, blended, rgb)


def stereo_overlay(obs: dict, label: str = "") -> np.ndarray:
    """[left RGB | right RGB | left RGB + instance segmentation] as one RGB image."""
    left, right, seg = obs["left_rgb"], obs["right_rgb"], obs["seg"]
    if seg.shape != left.shape[:2]:
        raise ValueError(f"segmentation {seg.shape} does not match image {left.shape[:2]}")
    panel = np.concatenate([left, right, overlay(left, seg)], axis=1)
    if label:
        cv2.putText(panel, label, (8, 22), cv2.FONT_HERSHEY_SIMPLEX, 0.6, (255, 255, 255), 2, cv2.LINE_AA)
    return panel


def save_rgb_png(image: np.ndarray, path: str | Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if not cv2.imwrite(str(path), cv2.cvtColor(image, cv2.COLOR_RGB2BGR)):
        raise OSError(f"could not write {path}")
    return path
