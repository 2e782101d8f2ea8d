"""Test-session set-up shared by every tier.

Every ROS participant the tests create (in this process or in child processes, which inherit
the environment) uses the project's loopback-only Fast DDS profile, and this session gets its
own ROS_DOMAIN_ID so that parallel test runs on one machine do not see each other.
"""
from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PROFILE = REPO / "dexsim_bringup" / "dexsim_bringup" / "resources" / "fastdds_loopback.xml"

os.environ["FASTDDS_DEFAULT_PROFILES_FILE"] = str(PROFILE)
os.environ["RMW_IMPLEMENTATION"] = "rmw_fastrtps_cpp"
os.environ.pop("DEXSIM_DDS", None)
if "DEXSIM_TEST_DOMAIN_ID" in os.environ:
    os.environ["ROS_DOMAIN_ID"] = os.environ["DEXSIM_TEST_DOMAIN_ID"]
else:
    os.environ["ROS_DOMAIN_ID"] = str(1 + os.getpid() % 200)


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return REPO


@pytest.fixture(scope="session")
def dds_env() -> dict[str, str]:
    """Environment for child processes that talk DDS (loopback profile, this session's domain)."""
    return dict(os.environ)
