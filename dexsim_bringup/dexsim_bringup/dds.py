"""Loopback-only DDS for every ROS process DexSim starts on a development machine.

Fast DDS multicasts discovery on every interface by default. DexSim ships a profile
(`resources/fastdds_loopback.xml`) that uses only shared memory and UDPv4 on 127.0.0.1; the CLI,
the Makefile and the tests put it in the environment of every process they start.

- ``FASTDDS_DEFAULT_PROFILES_FILE`` unset: the shipped loopback profile is used.
- set to another file: that file is used only if it is loopback-only too
  (:func:`check_profile`); otherwise DexSim refuses to start ROS processes.
- ``DEXSIM_DDS=network``: the user's own DDS configuration applies (a real robot network).
"""
from __future__ import annotations

import os
import sys
import xml.etree.ElementTree as ET
from collections.abc import Mapping, MutableMapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

PROFILE_ENV = "FASTDDS_DEFAULT_PROFILES_FILE"
OPT_OUT_ENV = "DEXSIM_DDS"
LOOPBACK_ADDRESSES = frozenset({"127.0.0.1", "localhost", "::1"})
_NS = "{http://www.eprosima.com}"


class DDSProfileError(RuntimeError):
    """The DDS profile in effect is missing, malformed, or lets traffic leave the loopback interface."""


@dataclass(frozen=True)
class ProfileCheck:
    path: Path
    loopback_only: bool
    reason: str  # why not loopback-only; empty when it is


def loopback_profile() -> Path:
    """Absolute path of the shipped loopback-only Fast DDS profile."""
    return Path(str(resources.files("dexsim_bringup") / "resources" / "fastdds_loopback.xml"))


def network_opt_out(env: Mapping[str, str] | None = None) -> bool:
    env = os.environ if env is None else env
    return env.get(OPT_OUT_ENV, "").lower() == "network"


def check_profile(path: str | Path) -> ProfileCheck:
    """Parse a Fast DDS profile and decide whether it keeps all traffic on loopback.

    Loopback-only means: the default participant profile disables the built-in transports and
    every user transport is shared memory or UDP/TCP with an interface allowlist of loopback
    addresses only.
    """
    path = Path(path)
    if not path.is_file():
        raise DDSProfileError(f"DDS profile {path} does not exist (set {PROFILE_ENV} to the loopback profile {loopback_profile()})")
    try:
        root = ET.parse(path).getroot()
    except ET.ParseError as exc:
        raise DDSProfileError(f"DDS profile {path} is not valid XML: {exc}") from exc

    def strip(tag: str) -> str:
        return tag.replace(_NS, "")

    descriptors: dict[str, tuple[str, list[str]]] = {}
    for desc in root.iter(f"{_NS}transport_descriptor"):
        fields = {strip(c.tag): c for c in desc}
        tid = (fields.get("transport_id").text or "").strip() if "transport_id" in fields else ""
        kind = (fields.get("type").text or "").strip() if "type" in fields else ""
        addrs = [(a.text or "").strip() for a in desc.iter(f"{_NS}address")]
        addrs += [(i.get("name") or "").strip() for i in desc.iter(f"{_NS}interface")]
        descriptors[tid] = (kind, addrs)

    default = None
    for part in root.iter(f"{_NS}participant"):
        if part.get("is_default_profile", "").lower() == "true":
            default = part
    if default is None:
        return ProfileCheck(path, False, "no participant profile with is_default_profile=\"true\"")
    builtin = default.find(f".//{_NS}useBuiltinTransports")
    if builtin is None or (builtin.text or "").strip().lower() != "false":
        return ProfileCheck(path, False, "useBuiltinTransports is not false (the built-in UDP transport uses every interface)")
    used = [(t.text or "").strip() for t in default.iter(f"{_NS}transport_id")]
    if not used:
        return ProfileCheck(path, False, "no userTransports: the participant would have no transport")
    for tid in used:
        if tid not in descriptors:
            return ProfileCheck(path, False, f"user transport {tid!r} has no transport_descriptor")
        kind, addrs = descriptors[tid]
        if kind == "SHM":
            continue
        if not addrs:
            return ProfileCheck(path, False, f"transport {tid!r} ({kind}) has no interface allowlist: it binds every interface")
        outside = [a for a in addrs if a not in LOOPBACK_ADDRESSES and a != "lo"]
        if outside:
            return ProfileCheck(path, False, f"transport {tid!r} ({kind}) allows non-loopback interfaces {outside}")
    return ProfileCheck(path, True, "")


def loopback_env(env: Mapping[str, str] | None = None, domain_id: int | None = None) -> dict[str, str]:
    """A copy of ``env`` (default: os.environ) for a ROS process that must stay on loopback.

    Keeps a user-chosen profile only when it is loopback-only; raises DDSProfileError otherwise.
    """
    out = dict(os.environ if env is None else env)
    if not network_opt_out(out):
        chosen = out.get(PROFILE_ENV)
        if chosen:
            check = check_profile(chosen)
            if not check.loopback_only:
                raise DDSProfileError(
                    f"{PROFILE_ENV}={chosen} is not loopback-only ({check.reason}); unset it to use "
                    f"DexSim's loopback profile, or set {OPT_OUT_ENV}=network on a real robot network")
        else:
            out[PROFILE_ENV] = str(loopback_profile())
    out.setdefault("RMW_IMPLEMENTATION", "rmw_fastrtps_cpp")
    # pip mode: the venv is the ament prefix (a sourced ROS install sets this already).
    out.setdefault("AMENT_PREFIX_PATH", sys.prefix)
    if domain_id is not None:
        out["ROS_DOMAIN_ID"] = str(domain_id)
    return out


def apply_loopback(env: MutableMapping[str, str] | None = None) -> None:
    """Set up this process (before rclpy.init) for loopback-only DDS."""
    env = os.environ if env is None else env
    env.update(loopback_env(env))
