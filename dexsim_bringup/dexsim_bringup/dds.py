"""Loopback-only DDS environment for every ROS process DexSim starts on a development machine.

Fast DDS multicasts discovery on every interface by default. DexSim ships a profile
(`resources/fastdds_loopback.xml`) that uses only shared memory and UDPv4 on 127.0.0.1; the CLI,
the Makefile and the tests put it in the environment of every process they start.
A user on a real robot network opts out with ``DEXSIM_DDS=network`` (then the user's own
Fast DDS configuration, or none, applies).
"""
from __future__ import annotations

import os
from collections.abc import Mapping, MutableMapping
from importlib import resources
from pathlib import Path

PROFILE_ENV = "FASTDDS_DEFAULT_PROFILES_FILE"
OPT_OUT_ENV = "DEXSIM_DDS"


def loopback_profile() -> Path:
    """Absolute path of the shipped loopback-only Fast DDS profile."""
    return Path(str(resources.files("dexsim_bringup") / "resources" / "fastdds_loopback.xml"))


def network_opt_out(env: Mapping[str, str] | None = None) -> bool:
    env = os.environ if env is None else env
    return env.get(OPT_OUT_ENV, "").lower() == "network"


def loopback_env(env: Mapping[str, str] | None = None, domain_id: int | None = None) -> dict[str, str]:
    """A copy of ``env`` (default: os.environ) set up for loopback-only Fast DDS."""
    out = dict(os.environ if env is None else env)
    if not network_opt_out(out):
        out[PROFILE_ENV] = str(loopback_profile())
    out.setdefault("RMW_IMPLEMENTATION", "rmw_fastrtps_cpp")
    if domain_id is not None:
        out["ROS_DOMAIN_ID"] = str(domain_id)
    return out


def apply_loopback(env: MutableMapping[str, str] | None = None) -> None:
    """Set up this process (before rclpy.init) for loopback-only DDS."""
    env = os.environ if env is None else env
    env.update(loopback_env(env))
