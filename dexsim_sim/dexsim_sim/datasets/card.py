"""Dataset card (`card.json`): what a dataset holds, summarised for people and tools.

The card is rebuilt from the finalised shards' attributes, so it is always consistent with the
episodes on disk (also after a resumed run).
"""
from __future__ import annotations

import hashlib
import json
import os
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

CARD_NAME = "card.json"
CARD_FORMAT = "dexsim-card"
CARD_VERSION = 1


def canonical_json(obj: Any) -> str:
    """JSON with sorted keys and no whitespace: equal objects give equal strings."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"))


def spec_hash(obj: Any) -> str:
    """sha256 hex digest of the canonical JSON of a (DR or task) spec dictionary."""
    return hashlib.sha256(canonical_json(obj).encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class EpisodeSummary:
    """The per-episode facts a card counts."""

    seed: int
    success: bool
    num_steps: int
    failure_reason: str = ""
    robot: str = ""
    task: str = ""
    image_size: tuple[int, int] = (0, 0)   # (H, W) of the stored images


@dataclass
class DatasetCard:
    """Summary of one dataset directory."""

    robot: str
    task: str
    num_episodes: int
    num_shards: int
    num_steps: int
    num_success: int
    failure_reasons: dict[str, int]
    image_size: tuple[int, int]
    dr_spec: dict[str, Any] | None
    dr_spec_hash: str
    created: str
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def success_rate(self) -> float:
        return self.num_success / self.num_episodes if self.num_episodes else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": CARD_FORMAT,
            "version": CARD_VERSION,
            "robot": self.robot,
            "task": self.task,
            "num_episodes": self.num_episodes,
            "num_shards": self.num_shards,
            "num_steps": self.num_steps,
            "num_success": self.num_success,
            "success_rate": self.success_rate,
            "failure_reasons": dict(self.failure_reasons),
            "image_size": list(self.image_size),
            "dr_ranges": self.dr_spec,
            "dr_spec_hash": self.dr_spec_hash,
            "created": self.created,
            "extra": self.extra,
        }


def build_card(summaries: list[EpisodeSummary], num_shards: int, dr_spec: dict[str, Any] | None,
               robot: str = "", task: str = "", extra: dict[str, Any] | None = None) -> DatasetCard:
    """Count episodes, successes and failure reasons; robot/task default to the episodes' own."""
    reasons = Counter(s.failure_reason or "unspecified" for s in summaries if not s.success)
    robots = sorted({s.robot for s in summaries if s.robot})
    tasks = sorted({s.task for s in summaries if s.task})
    sizes = sorted({s.image_size for s in summaries})
    return DatasetCard(
        robot=robot or ",".join(robots),
        task=task or ",".join(tasks),
        num_episodes=len(summaries),
        num_shards=num_shards,
        num_steps=sum(s.num_steps for s in summaries),
        num_success=sum(1 for s in summaries if s.success),
        failure_reasons=dict(sorted(reasons.items())),
        image_size=sizes[0] if len(sizes) == 1 else (0, 0),
        dr_spec=dr_spec,
        dr_spec_hash=spec_hash(dr_spec) if dr_spec is not None else "",
        created=datetime.now(timezone.utc).isoformat(timespec="seconds"),
        extra=dict(extra or {}),
    )


def write_card(out_dir: str | Path, card: DatasetCard) -> Path:
    """Write `card.json` atomically (temporary file, fsync, rename)."""
    path = Path(out_dir) / CARD_NAME
    tmp = path.with_suffix(".json.partial")
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(card.to_dict(), f, indent=2, sort_keys=True)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    return path


def read_card(out_dir: str | Path) -> dict[str, Any]:
    with open(Path(out_dir) / CARD_NAME, encoding="utf-8") as f:
        return json.load(f)
