"""Faults a real rig has, produced on demand in the simulated one (the sim node's ``fault`` parameter).

The sim's clock keeps running through every fault, so a node that follows ``/clock`` sees its inputs
age exactly as it would on hardware:

- ``none``: normal operation.
- ``freeze_cameras``: no stereo images or camera_info (a camera driver that hangs or a cable pulled).
- ``drop_joint_states``: no ``/joint_states`` or ``/tf`` (the arm driver's state publisher stops).
- ``delay_images:S``: every image is published S seconds of sim time after it was taken, with the
  stamp of when it was taken (a saturated link or a slow driver); frames taken before the fault
  ends and not yet due are dropped when it ends.
- ``stall_controllers``: the controllers stop updating: the arm holds its last targets and active
  goals never finish (a controller manager that stops its update loop).
- ``abort_goals``: every active arm goal is aborted in the next control period (a controller that
  faults, e.g. on a tripped safety stop).

ROS-free: :func:`parse_fault` and :class:`DelayLine` are the whole behaviour; the node applies them.
"""
from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass
from typing import Any

FAULT_KINDS = ("none", "freeze_cameras", "drop_joint_states", "delay_images", "stall_controllers", "abort_goals")
MAX_IMAGE_DELAY_S = 10.0          # s of sim time: a delay beyond this is a frozen camera, not a slow one


class FaultError(ValueError):
    """A fault specification that is not one of FAULT_KINDS (with its argument)."""


@dataclass(frozen=True)
class Fault:
    kind: str = "none"
    delay_s: float = 0.0          # delay_images only

    @property
    def publishes_images(self) -> bool:
        return self.kind != "freeze_cameras"

    @property
    def publishes_joint_states(self) -> bool:
        return self.kind != "drop_joint_states"

    @property
    def runs_controllers(self) -> bool:
        return self.kind != "stall_controllers"

    @property
    def aborts_goals(self) -> bool:
        return self.kind == "abort_goals"

    def __str__(self) -> str:
        return f"delay_images:{self.delay_s:g}" if self.kind == "delay_images" else self.kind


NO_FAULT = Fault()


def parse_fault(text: str) -> Fault:
    """``"none"``, ``""``, a kind of FAULT_KINDS, or ``"delay_images:S"`` (0 < S <= MAX_IMAGE_DELAY_S)."""
    text = str(text).strip()
    kind, _, arg = text.partition(":")
    kind = kind or "none"
    if kind not in FAULT_KINDS:
        raise FaultError(f"fault: unknown fault {text!r}; expected one of {list(FAULT_KINDS)} "
                         "(delay_images:S with S in seconds)")
    if kind != "delay_images":
        if arg:
            raise FaultError(f"fault: {kind!r} takes no argument, got {text!r}")
        return Fault(kind)
    try:
        delay = float(arg)
    except ValueError:
        raise FaultError(f"fault: delay_images needs a delay in seconds, e.g. delay_images:0.5, got {text!r}") from None
    if not (math.isfinite(delay) and 0.0 < delay <= MAX_IMAGE_DELAY_S):
        raise FaultError(f"fault: delay_images:S needs 0 < S <= {MAX_IMAGE_DELAY_S:g} s, got {delay!r}")
    return Fault("delay_images", delay)


class DelayLine:
    """Items stamped when taken, released ``delay`` seconds later (sim time), oldest first."""

    def __init__(self) -> None:
        self._items: deque[tuple[float, Any]] = deque()

    def __len__(self) -> int:
        return len(self._items)

    def push(self, stamp: float, item: Any) -> None:
        self._items.append((float(stamp), item))

    def due(self, now: float, delay: float) -> list[Any]:
        """Items taken at or before ``now - delay``, removed from the line, oldest first."""
        out = []
        while self._items and self._items[0][0] <= now - delay + 1e-9:
            out.append(self._items.popleft()[1])
        return out

    def clear(self) -> None:
        self._items.clear()
