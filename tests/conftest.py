"""Test-session set-up shared by every tier.

Every ROS participant the tests create (in this process or in child processes, which inherit
the environment) uses the project's loopback-only Fast DDS profile, and this session gets its
own ROS_DOMAIN_ID so that parallel test runs on one machine do not see each other.
"""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from dexsim_bringup.ros_client import RosClient

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


class RosHarness(RosClient):
    """A test-side rclpy node spinning in a background thread (dexsim_bringup.ros_client.RosClient),
    plus peer processes: the nodes under test, started with :meth:`spawn`; they inherit this
    session's loopback profile and ROS_DOMAIN_ID, and are stopped (SIGINT) before the node closes.
    """

    def __init__(self, name: str = "dexsim_test_client") -> None:
        super().__init__(name)
        self._procs: list = []

    def spawn(self, args: list[str], log_name: str = "peer"):
        """Start a peer process (e.g. [sys.executable, '-m', 'dexsim_sim.nodes.sim_node', ...])."""
        import subprocess
        import tempfile

        log = tempfile.NamedTemporaryFile(prefix=f"dexsim_{log_name}_", suffix=".log", delete=False)
        proc = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, env=dict(os.environ))
        proc.log_path = log.name  # type: ignore[attr-defined]
        self._procs.append(proc)
        return proc

    @staticmethod
    def peer_log(proc) -> str:
        try:
            return Path(proc.log_path).read_text()[-4000:]
        except OSError:
            return ""

    def wait_for(self, predicate, timeout: float = 10.0, interval: float = 0.02) -> bool:
        return super().wait_for(predicate, timeout, interval)

    def wait_future(self, future, timeout: float = 10.0):
        return self.result(future, timeout)

    def close(self) -> None:
        import signal
        import subprocess

        for proc in self._procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGINT)
        for proc in self._procs:
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        super().close()


@pytest.fixture
def ros():
    """A RosHarness for one test (node + background executor + peer processes)."""
    harness = RosHarness()
    try:
        yield harness
    finally:
        harness.close()
