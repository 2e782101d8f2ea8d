"""rosbag2 (MCAP storage) writing of raw CDR messages, without rosbag2 (pure-python `rosbags`).

What `ros2 bag play` / `ros2 bag info` (Kilted) need and this writes: bag metadata version 9,
each topic's type name, message definition (``ros2msg``) and RIHS01 type hash, and the QoS
profiles its publishers offered (so /tf_static and /robot_description replay transient local).

Types missing from rosbags' Kilted typestore (dexsim_msgs, control_msgs, ...) are registered
from the installed ``.msg`` files under ``<prefix>/share/<package>/msg``; the hash written is the
installed one (``<Name>.json``, what the live publishers announce), checked against the typestore's.
ROS-free: the recorder node (nodes/recorder_node.py) feeds it the bytes it receives.
"""
from __future__ import annotations

import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path

from rosbags.interfaces import Qos, QosDurability, QosHistory, QosLiveliness, QosReliability, QosTime
from rosbags.rosbag2 import StoragePlugin, Writer
from rosbags.typesys import Stores, get_types_from_msg, get_typestore
from rosbags.typesys.store import Typestore

BAG_VERSION = 9                    # rosbag2 metadata version of Jazzy/Kilted `ros2 bag`
TYPESTORE = Stores.ROS2_KILTED
RELIABILITIES = ("reliable", "best_effort")
DURABILITIES = ("volatile", "transient_local")
_INFINITE = QosTime(sec=0x7FFFFFFF, nsec=0xFFFFFFFF)   # rmw's "infinite" duration as rosbag2 writes it


class RecordingError(RuntimeError):
    """A topic or type that cannot be recorded (unknown type, hash mismatch, bag not open)."""


@dataclass(frozen=True)
class TopicQos:
    """The QoS a publisher offered (the parts rosbag2 replays with)."""
    reliability: str = "reliable"
    durability: str = "volatile"
    depth: int = 10

    def __post_init__(self) -> None:
        if self.reliability not in RELIABILITIES:
            raise RecordingError(f"TopicQos.reliability: expected one of {RELIABILITIES}, got {self.reliability!r}")
        if self.durability not in DURABILITIES:
            raise RecordingError(f"TopicQos.durability: expected one of {DURABILITIES}, got {self.durability!r}")
        if self.depth < 0:
            raise RecordingError(f"TopicQos.depth: expected >= 0, got {self.depth}")

    def to_rosbags(self) -> Qos:
        return Qos(history=QosHistory.KEEP_LAST, depth=self.depth,
                   reliability=QosReliability.RELIABLE if self.reliability == "reliable" else QosReliability.BEST_EFFORT,
                   durability=(QosDurability.TRANSIENT_LOCAL if self.durability == "transient_local"
                               else QosDurability.VOLATILE),
                   deadline=_INFINITE, lifespan=_INFINITE, liveliness=QosLiveliness.AUTOMATIC,
                   liveliness_lease_duration=_INFINITE, avoid_ros_namespace_conventions=False)


def ament_prefixes() -> list[Path]:
    """Install prefixes to look for interface definitions in (AMENT_PREFIX_PATH, then this venv)."""
    paths = [Path(p) for p in os.environ.get("AMENT_PREFIX_PATH", "").split(os.pathsep) if p]
    return [*paths, Path(sys.prefix)]


def _interface_file(msgtype: str, suffix: str, prefixes: list[Path]) -> Path | None:
    package, kind, name = msgtype.split("/")
    for prefix in prefixes:
        path = prefix / "share" / package / kind / f"{name}{suffix}"
        if path.is_file():
            return path
    return None


def installed_type_hash(msgtype: str, prefixes: list[Path] | None = None) -> str | None:
    """RIHS01 hash of an installed interface (from share/<pkg>/msg/<Name>.json), or None."""
    path = _interface_file(msgtype, ".json", prefixes or ament_prefixes())
    if path is None:
        return None
    hashes = json.loads(path.read_text()).get("type_hashes", [])
    return next((h["hash_string"] for h in hashes if h["type_name"] == msgtype), None)


def _register_package(store: Typestore, package: str, prefixes: list[Path]) -> bool:
    for prefix in prefixes:
        msg_dir = prefix / "share" / package / "msg"
        if msg_dir.is_dir():
            types = {}
            for path in sorted(msg_dir.glob("*.msg")):
                types.update(get_types_from_msg(path.read_text(), f"{package}/msg/{path.stem}"))
            store.register(types)
            return True
    return False


def build_typestore(msgtypes: list[str], prefixes: list[Path] | None = None) -> Typestore:
    """Kilted typestore plus every package of ``msgtypes`` (and their field types) it lacks."""
    prefixes = prefixes or ament_prefixes()
    store = get_typestore(TYPESTORE)
    pending = list(msgtypes)
    tried: set[str] = set()
    while pending:
        msgtype = pending.pop()
        if msgtype not in store.fielddefs:
            package = msgtype.split("/")[0]
            if package in tried or not _register_package(store, package, prefixes):
                raise RecordingError(f"type {msgtype}: not in the {TYPESTORE.name} typestore and no "
                                     f"share/{package}/msg/*.msg under {[str(p) for p in prefixes]}")
            tried.add(package)
        for _, field_type in store.fielddefs[msgtype][1]:
            pending.extend(_nested_names(field_type))
    return store


def _nested_names(field_type) -> list[str]:
    """Message type names referenced by a rosbags field definition."""
    from rosbags.interfaces import Nodetype

    kind, detail = field_type
    if kind == Nodetype.NAME:
        return [detail]
    if kind in (Nodetype.ARRAY, Nodetype.SEQUENCE):
        return _nested_names(detail[0])
    return []


class BagRecorder:
    """Writes raw CDR messages into a new MCAP rosbag2 directory; ``close()`` finalises it.

    Use as a context manager, or call ``close()`` from a shutdown handler: metadata.yaml and the
    MCAP summary are written only then.
    """

    def __init__(self, path: str | Path, prefixes: list[Path] | None = None) -> None:
        self.path = Path(path)
        if self.path.exists():
            raise RecordingError(f"output: {self.path} exists already (rosbag2 writes a new directory)")
        self.prefixes = prefixes or ament_prefixes()
        self._writer = Writer(self.path, version=BAG_VERSION, storage_plugin=StoragePlugin.MCAP)
        self._writer.open()
        self._connections: dict[str, object] = {}
        self.counts: dict[str, int] = {}
        self.closed = False

    def add_topic(self, topic: str, msgtype: str, offered: list[TopicQos]) -> None:
        """Register a topic; its type definition and hash go into the bag."""
        if topic in self._connections:
            raise RecordingError(f"topic {topic}: added twice")
        store = build_typestore([msgtype], self.prefixes)
        msgdef, _ = store.generate_msgdef(msgtype, ros_version=2)
        computed = store.hash_rihs01(msgtype)
        installed = installed_type_hash(msgtype, self.prefixes)
        if installed is not None and installed != computed:
            raise RecordingError(f"type {msgtype}: installed hash {installed} != definition hash {computed}")
        self._connections[topic] = self._writer.add_connection(
            topic, msgtype, msgdef=msgdef, rihs01=installed or computed,
            offered_qos_profiles=[q.to_rosbags() for q in offered])
        self.counts[topic] = 0

    @property
    def topics(self) -> list[str]:
        return list(self._connections)

    def write(self, topic: str, stamp_ns: int, data: bytes) -> None:
        if self.closed:
            raise RecordingError(f"bag {self.path} is closed")
        self._writer.write(self._connections[topic], stamp_ns, data)
        self.counts[topic] += 1

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            self._writer.close()

    def __enter__(self) -> "BagRecorder":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
