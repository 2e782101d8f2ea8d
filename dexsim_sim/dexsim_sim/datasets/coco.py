"""COCO instance annotations from segmentation masks, with 6-D object poses as an extra field.

Each annotation holds the instance mask as compressed RLE (pycocotools), its area and box
(x, y, w, h), the category id, and `pose`: the object's (x, y, z, qx, qy, qz, qw) in `pose_frame`
(a DexSim extension; standard COCO readers ignore it).
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np
from pycocotools import mask as mask_utils


class CocoError(ValueError):
    """Bad input to the COCO builder."""


@dataclass(frozen=True)
class Instance:
    """One object visible in an image: its segmentation id (PyBullet body uid), category, pose."""

    seg_id: int
    category: str
    pose: tuple[float, ...] | None = None   # (x, y, z, qx, qy, qz, qw)
    name: str = ""


class CocoBuilder:
    """Accumulate images and instance annotations; `to_dict()` / `save(path)` give a COCO json."""

    def __init__(self, categories: Sequence[str], pose_frame: str = "world", description: str = "DexSim"):
        if not categories or len(set(categories)) != len(categories):
            raise CocoError(f"categories: expected unique names, got {list(categories)!r}")
        self.category_ids = {name: i + 1 for i, name in enumerate(categories)}   # COCO ids start at 1
        self.pose_frame = pose_frame
        self.description = description
        self.images: list[dict[str, Any]] = []
        self.annotations: list[dict[str, Any]] = []

    def add_image(self, file_name: str, width: int, height: int, **extra: Any) -> int:
        image_id = len(self.images) + 1
        self.images.append({"id": image_id, "file_name": file_name, "width": int(width), "height": int(height),
                            **extra})
        return image_id

    def add_instances(self, image_id: int, seg: np.ndarray, instances: Sequence[Instance]) -> list[int]:
        """Annotate each instance whose id appears in `seg` (H, W); invisible ones are skipped."""
        if not 1 <= image_id <= len(self.images):
            raise CocoError(f"image_id: {image_id} is not a known image")
        img = self.images[image_id - 1]
        seg = np.asarray(seg)
        if seg.shape != (img["height"], img["width"]):
            raise CocoError(f"seg: expected shape {(img['height'], img['width'])}, got {seg.shape}")
        ids = []
        for inst in instances:
            if inst.category not in self.category_ids:
                raise CocoError(f"instance {inst.name or inst.seg_id}: unknown category {inst.category!r}")
            m = seg == inst.seg_id
            if not m.any():
                continue
            rle = mask_utils.encode(np.asfortranarray(m.astype(np.uint8)))
            ann_id = len(self.annotations) + 1
            ann: dict[str, Any] = {
                "id": ann_id, "image_id": image_id, "category_id": self.category_ids[inst.category],
                "segmentation": {"size": [int(s) for s in rle["size"]], "counts": rle["counts"].decode("ascii")},
                "area": float(mask_utils.area(rle)), "bbox": [float(v) for v in mask_utils.toBbox(rle)],
                "iscrowd": 0, "seg_id": int(inst.seg_id), "name": inst.name,
            }
            if inst.pose is not None:
                if len(inst.pose) != 7:
                    raise CocoError(f"instance {inst.name or inst.seg_id}.pose: expected 7 numbers, got {inst.pose!r}")
                ann["pose"] = [float(v) for v in inst.pose]
                ann["pose_frame"] = self.pose_frame
            self.annotations.append(ann)
            ids.append(ann_id)
        return ids

    def to_dict(self) -> dict[str, Any]:
        return {
            "info": {"description": self.description, "version": "1.0"},
            "images": self.images,
            "annotations": self.annotations,
            "categories": [{"id": i, "name": n, "supercategory": "object"} for n, i in self.category_ids.items()],
        }

    def save(self, path: str | Path) -> Path:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(self.to_dict()), encoding="utf-8")
        return path
