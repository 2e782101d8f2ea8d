"""The interface types DexSim relies on, and their expected RIHS01 type hashes.

Upstream hashes are the ones published for the distro's packages; the pip-mode builds in
`interfaces_pip/` must reproduce them so real controllers, tf2 and RViz understand the traffic.
"""
from __future__ import annotations

import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path

# type name -> RIHS01 hash of the upstream definition (ROS 2 Kilted).
UPSTREAM_TYPE_HASHES: dict[str, str] = {
    "tf2_msgs/msg/TFMessage": "RIHS01_e369d0f05a23ae52508854b66f6aa0437f3449d652e8cbf22d5abe85d020f087",
    "control_msgs/action/FollowJointTrajectory": "RIHS01_ff29901b2693f5deb847e96084a1c2cdb26e70b7c847be21859b70a55fb29cf0",
}

# Every interface the nodes use: (package, kind, name).
DEXSIM_INTERFACES: tuple[tuple[str, str, str], ...] = (
    ("dexsim_msgs", "msg", "ObjectSpec"),
    ("dexsim_msgs", "msg", "SceneDescription"),
    ("dexsim_msgs", "msg", "Keypose"),
    ("dexsim_msgs", "msg", "KeyposeSequence"),
    ("dexsim_msgs", "msg", "DRSample"),
    ("dexsim_msgs", "msg", "EpisodeInfo"),
    ("dexsim_msgs", "srv", "ResetEpisode"),
    ("dexsim_msgs", "srv", "SetPolicyActive"),
    ("dexsim_msgs", "srv", "ProjectScene"),
    ("dexsim_msgs", "action", "ProjectDemonstration"),
    ("dexsim_msgs", "action", "GenerateDataset"),
    ("control_msgs", "action", "FollowJointTrajectory"),
    ("control_msgs", "action", "GripperCommand"),
    ("tf2_msgs", "msg", "TFMessage"),
)


class InterfaceError(RuntimeError):
    """An interface package is missing or its type description cannot be read."""


def package_share(package: str) -> Path:
    """share/<package> from the ament index; in pip mode the venv prefix is the ament prefix."""
    from ament_index_python.packages import PackageNotFoundError, get_package_share_directory

    if os.environ.get("AMENT_PREFIX_PATH"):
        try:
            return Path(get_package_share_directory(package))
        except PackageNotFoundError:
            pass
    share = Path(sys.prefix) / "share" / package
    if not (Path(sys.prefix) / "share" / "ament_index" / "resource_index" / "packages" / package).exists():
        raise InterfaceError(f"interface package {package!r} is not installed (run `make setup`)")
    return share


@dataclass(frozen=True)
class TypeHash:
    type_name: str
    hash: str
    source: Path


def type_hash(package: str, kind: str, name: str) -> TypeHash:
    """The RIHS01 hash recorded in the installed type description (share/<pkg>/<kind>/<Name>.json)."""
    share = package_share(package)
    path = share / kind / f"{name}.json"
    if not path.is_file():
        raise InterfaceError(f"{package}/{kind}/{name}: no type description at {path}")
    try:
        data = json.loads(path.read_text())
        entry = data["type_hashes"][0]
        return TypeHash(entry["type_name"], entry["hash_string"], path)
    except (KeyError, IndexError, ValueError) as exc:
        raise InterfaceError(f"{path}: unreadable type description ({exc})") from exc
