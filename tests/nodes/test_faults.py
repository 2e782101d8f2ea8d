"""Injected faults, survived: the sim node (its ``fault`` parameter, the clock running on) and the
policy node, separate processes over real DDS, both on sim time.

For frozen cameras, dropped joint states and delayed images, the policy node must notice within one
control period after its inputs pass ``max_input_age_s`` (its diagnostics say ``stale`` by then, in
sim time; plus the executor's scheduling latency, SCHEDULING_SLACK_S), send no goal while they stay stale, and resume when the fault is cleared. For stalled
controllers and aborted goals it keeps the arm inside its limits (the sim's controller rejects no
goal of it) and drives again afterwards. Waits are conditions on sim time and messages, never sleeps.
"""
from __future__ import annotations

import sys
import threading
from pathlib import Path

import pytest
from diagnostic_msgs.msg import DiagnosticArray
from rcl_interfaces.msg import Parameter, ParameterType, ParameterValue
from rcl_interfaces.srv import SetParameters
from rclpy.qos import qos_profile_sensor_data
from rosgraph_msgs.msg import Clock
from sensor_msgs.msg import Image, JointState

from dexsim_msgs.srv import SetPolicyActive

pytestmark = pytest.mark.ros
ROBOT = "wx250s"
H, W = 32, 40
RATE_HZ = 10.0                 # the policy node's control/watchdog rate (sim time)
MAX_AGE_S = 0.5                # its watchdog's input age limit (sim time)
PERIOD_S = 1.0 / RATE_HZ
START_S = 120.0                # s wall for both processes to start
WAIT_S = 60.0                  # s wall for any condition
HOLD_CHECK_S = 1.5             # s of sim time the hold is watched after it began
SIM_RTF = 0.5                  # the sim at half real time: callback latency (wall) costs half in sim time
# the watchdog's timer callback runs when the executor gets to it: measured here up to ~25 ms of sim
# time late at real-time factor 1 with both cores busy; one more period covers a loaded CI machine
SCHEDULING_SLACK_S = PERIOD_S


class Rig:
    """Test side: sim clock, input stamps, the policy node's diagnostics, the sim's fault switch."""

    def __init__(self, ros) -> None:
        self.ros, node = ros, ros.node
        self.lock = threading.Lock()
        self.now = 0.0
        self.last_image = self.last_joints = None
        self.diags: list[tuple[float, dict]] = []
        node.create_subscription(Clock, "/clock", self._on_clock, 10)
        node.create_subscription(Image, "/stereo/left/image_rect", self._on_image, qos_profile_sensor_data)
        node.create_subscription(JointState, "/joint_states", self._on_joints, 10)
        node.create_subscription(DiagnosticArray, "/diagnostics", self._on_diag, 10)
        self.set_params = node.create_client(SetParameters, "/dexsim_sim/set_parameters")
        self.set_active = node.create_client(SetPolicyActive, "/dexsim/policy/set_active")

    @staticmethod
    def _t(stamp) -> float:
        return stamp.sec + stamp.nanosec * 1e-9

    def _on_clock(self, msg) -> None:
        self.now = self._t(msg.clock)

    def _on_image(self, msg) -> None:
        self.last_image = self._t(msg.header.stamp)

    def _on_joints(self, msg) -> None:
        self.last_joints = self._t(msg.header.stamp)

    def _on_diag(self, msg) -> None:
        for status in msg.status:
            if status.name.endswith("policy"):
                with self.lock:
                    self.diags.append((self._t(msg.header.stamp), {kv.key: kv.value for kv in status.values}))

    def diag(self) -> dict:
        with self.lock:
            return self.diags[-1][1] if self.diags else {}

    def goals_sent(self) -> int:
        return int(self.diag().get("goals_sent", 0))

    def fault(self, text: str) -> float:
        """Switch the sim's fault; returns the sim time when the switch was acknowledged."""
        value = ParameterValue(type=ParameterType.PARAMETER_STRING, string_value=text)
        response = self.ros.call(self.set_params, SetParameters.Request(parameters=[Parameter(name="fault", value=value)]),
                                 WAIT_S)
        assert response.results[0].successful, response.results[0].reason
        return self.now

    def wait_sim(self, seconds: float) -> None:
        until = self.now + seconds
        assert self.ros.wait_for(lambda: self.now >= until, WAIT_S), f"sim time stuck at {self.now}"

    def driving(self) -> bool:
        """Fresh inputs and goals going out."""
        n = self.goals_sent()
        return self.diag().get("stale") == "False" and self.ros.wait_for(lambda: self.goals_sent() >= n + 2, WAIT_S)


@pytest.fixture(scope="module")
def rig(request, tmp_path_factory):
    here = Path(__file__).resolve()
    plugins = request.config.pluginmanager
    ros = plugins.get_plugin(str(here.parents[1] / "conftest.py")).RosHarness("dexsim_fault_test")
    make_calm_checkpoint = plugins.get_plugin(str(here.parent / "conftest.py")).make_calm_checkpoint
    ckpt = make_calm_checkpoint(tmp_path_factory.mktemp("faults") / "calm", ROBOT, (H, W), 0.01)
    sim = ros.spawn([sys.executable, "-m", "dexsim_sim.nodes.sim_node", "--ros-args", "-p", f"robot:={ROBOT}",
                     "-p", f"image_width:={W}", "-p", f"image_height:={H}", "-p", "renderer:=tiny",
                     "-p", f"real_time_factor:={SIM_RTF}", "-p", "camera_hz:=10.0", "-p", "use_sim_time:=true"], "sim_node")
    policy = ros.spawn([sys.executable, "-m", "dexsim_policy.nodes.policy_node", "--ros-args", "-p", f"robot:={ROBOT}",
                        "-p", f"checkpoint:={ckpt}", "-p", "use_sim_time:=true", "-p", f"rate_hz:={RATE_HZ}",
                        "-p", f"max_input_age_s:={MAX_AGE_S}"], "policy_node")
    r = Rig(ros)
    try:
        assert r.set_params.wait_for_service(timeout_sec=START_S), ros.peer_log(sim)
        assert r.set_active.wait_for_service(timeout_sec=START_S), ros.peer_log(policy)
        assert ros.call(r.set_active, SetPolicyActive.Request(active=True), WAIT_S).success
        assert ros.wait_for(r.driving, START_S), (r.diag(), ros.peer_log(policy))
        r.procs = (sim, policy)
        yield r
        assert sim.poll() is None and policy.poll() is None, (ros.peer_log(sim), ros.peer_log(policy))
        assert "goal rejected" not in ros.peer_log(sim), ros.peer_log(sim)   # nothing unsafe reached the arm
    finally:
        ros.close()


@pytest.mark.parametrize("fault, last_input", [("freeze_cameras", "last_image"), ("drop_joint_states", "last_joints"),
                                               ("delay_images:1.0", "last_image")])
def test_stale_inputs_hold_within_one_period_and_resume(rig, fault, last_input):
    assert rig.driving()
    with rig.lock:
        before = len(rig.diags)
    rig.fault(fault)
    assert rig.ros.wait_for(lambda: rig.diag().get("stale") == "True", WAIT_S), rig.diag()
    with rig.lock:
        t_hold, first = next((t, d) for t, d in rig.diags[before:] if d["stale"] == "True")
    # the newest input the node had: the last one published before the fault (no frame arrives
    # before the hold under a delay of 1 s: a delayed frame comes 1 s after it was taken, with that stamp)
    newest = getattr(rig, last_input)
    assert newest is not None
    assert t_hold <= newest + MAX_AGE_S + PERIOD_S + SCHEDULING_SLACK_S, f"held at {t_hold:.3f} s, newest input {newest:.3f} s"
    print(f"{fault}: hold {t_hold - newest - MAX_AGE_S:.3f} s of sim time after the inputs passed the age limit")
    held = int(first["goals_sent"])
    rig.wait_sim(HOLD_CHECK_S)
    with rig.lock:
        during = [d for t, d in rig.diags if t >= t_hold]
    assert all(d["stale"] == "True" and int(d["goals_sent"]) == held for d in during), "goals sent while stale"
    rig.fault("none")
    assert rig.ros.wait_for(lambda: rig.diag().get("stale") == "False" and rig.goals_sent() > held, WAIT_S), rig.diag()


@pytest.mark.parametrize("fault", ["stall_controllers", "abort_goals"])
def test_controller_faults_keep_the_arm_safe_and_driving_resumes(rig, fault, capsys):
    from dexsim_bringup.cli import main

    assert rig.driving()
    assert main(["fault", fault]) == 0                 # the CLI verb sets the same parameter
    assert capsys.readouterr().out.strip() == f"/dexsim_sim: fault {fault}"
    n = rig.goals_sent()
    rig.wait_sim(1.0)                                  # inputs stay fresh: the node keeps commanding
    assert rig.diag().get("stale") == "False" and rig.goals_sent() > n
    rig.fault("none")
    assert rig.driving()


def test_a_bad_fault_is_refused_and_the_sim_runs_on(rig):
    value = ParameterValue(type=ParameterType.PARAMETER_STRING, string_value="melt")
    response = rig.ros.call(rig.set_params, SetParameters.Request(parameters=[Parameter(name="fault", value=value)]),
                            WAIT_S)
    assert not response.results[0].successful and "unknown fault 'melt'" in response.results[0].reason
    rig.wait_sim(0.5)
    assert rig.driving()
