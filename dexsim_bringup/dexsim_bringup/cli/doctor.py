"""`dexsim doctor`: check the environment, each check pass / warn / fail with a fix hint.

Exit code 1 when any check fails (warnings, e.g. no EGL renderer, do not fail: there is a fallback).
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass

PASS, WARN, FAIL = "pass", "warn", "fail"
DDS_ROUNDTRIP_TIMEOUT_S = 5.0


@dataclass
class Check:
    name: str
    status: str
    detail: str
    hint: str = ""


def register(sub) -> None:
    p = sub.add_parser("doctor", help="check the environment (ROS 2, DDS profile, interfaces, rendering, torch)",
                       description=__doc__)
    p.add_argument("--json", action="store_true", help="print the checks as one JSON object")
    p.set_defaults(func=run)


def _python() -> Check:
    v = sys.version_info
    ok = (3, 10) <= (v.major, v.minor) <= (3, 12)
    return Check("python", PASS if ok else FAIL, f"{sys.executable} {v.major}.{v.minor}.{v.micro}",
                 "" if ok else "use CPython 3.10-3.12 (the ROS 2 Kilted wheels exist only for these)")


def _rclpy() -> Check:
    try:
        import rclpy  # noqa: F401
        from rclpy.utilities import get_rmw_implementation_identifier
    except Exception as exc:  # noqa: BLE001 - report any import failure
        return Check("rclpy", FAIL, f"import rclpy failed: {exc}", "run `make setup`")
    rmw = get_rmw_implementation_identifier()
    ok = rmw == "rmw_fastrtps_cpp"
    return Check("rmw", PASS if ok else FAIL, f"rclpy imports; RMW {rmw}",
                 "" if ok else "export RMW_IMPLEMENTATION=rmw_fastrtps_cpp (the loopback profile is a Fast DDS profile)")


def _dds_profile() -> Check:
    from dexsim_bringup.dds import PROFILE_ENV, DDSProfileError, check_profile, loopback_profile, network_opt_out

    if network_opt_out():
        return Check("dds_profile", WARN, "DEXSIM_DDS=network: the user's DDS configuration applies (traffic may leave this machine)",
                     "unset DEXSIM_DDS on development and CI machines")
    chosen = os.environ.get(PROFILE_ENV)
    path = chosen or str(loopback_profile())
    try:
        check = check_profile(path)
    except DDSProfileError as exc:
        return Check("dds_profile", FAIL, str(exc), f"unset {PROFILE_ENV} or point it at {loopback_profile()}")
    if not check.loopback_only:
        return Check("dds_profile", FAIL, f"{path} is not loopback-only: {check.reason}",
                     f"unset {PROFILE_ENV} or point it at {loopback_profile()}")
    how = "set in the environment" if chosen else "applied by dexsim"
    return Check("dds_profile", PASS, f"{path} ({how}): shared memory + UDPv4 on 127.0.0.1 only")


def _dds_roundtrip() -> Check:
    """Publish and receive one message between two nodes over the profile in effect."""
    try:
        import rclpy
        from rclpy.executors import SingleThreadedExecutor
        from std_msgs.msg import String

        from dexsim_bringup.dds import apply_loopback
        apply_loopback()
        context = rclpy.Context()
        rclpy.init(context=context)
        try:
            a = rclpy.create_node("dexsim_doctor_pub", context=context)
            b = rclpy.create_node("dexsim_doctor_sub", context=context)
            got: list[str] = []
            b.create_subscription(String, "/dexsim_doctor", lambda m: got.append(m.data), 10)
            pub = a.create_publisher(String, "/dexsim_doctor", 10)
            ex = SingleThreadedExecutor(context=context)
            ex.add_node(a)
            ex.add_node(b)
            t0 = time.monotonic()
            while not got and time.monotonic() - t0 < DDS_ROUNDTRIP_TIMEOUT_S:
                pub.publish(String(data="ping"))
                ex.spin_once(timeout_sec=0.05)
            ex.shutdown()
            a.destroy_node()
            b.destroy_node()
        finally:
            rclpy.shutdown(context=context)
    except Exception as exc:  # noqa: BLE001
        return Check("dds_roundtrip", FAIL, f"pub/sub failed: {exc}", "run `make setup`; check the DDS profile")
    if not got:
        return Check("dds_roundtrip", FAIL, f"no message received within {DDS_ROUNDTRIP_TIMEOUT_S} s",
                     "check the DDS profile and ROS_DOMAIN_ID")
    return Check("dds_roundtrip", PASS, f"pub/sub between two nodes in {1000 * (time.monotonic() - t0):.0f} ms")


def _interfaces() -> list[Check]:
    from dexsim_bringup.interfaces import DEXSIM_INTERFACES, UPSTREAM_TYPE_HASHES, InterfaceError, type_hash

    checks = []
    missing = []
    for pkg, kind, name in DEXSIM_INTERFACES:
        try:
            __import__(f"{pkg}.{kind}", fromlist=[name]).__dict__[name]
            th = type_hash(pkg, kind, name)
        except (ImportError, KeyError, InterfaceError) as exc:
            missing.append(f"{pkg}/{kind}/{name} ({exc})")
            continue
        expected = UPSTREAM_TYPE_HASHES.get(th.type_name)
        if expected is not None:
            ok = expected == th.hash
            checks.append(Check(f"hash:{th.type_name}", PASS if ok else FAIL,
                                th.hash if ok else f"{th.hash} != upstream {expected}",
                                "" if ok else "the pip-mode definition differs from upstream: fix interfaces_pip/ and re-run `make setup`"))
    checks.insert(0, Check("interfaces", FAIL if missing else PASS,
                           "missing: " + "; ".join(missing) if missing else f"{len(DEXSIM_INTERFACES)} interfaces import",
                           "run `make setup` (builds dexsim_msgs, control_msgs, tf2_msgs)" if missing else ""))
    return checks


_EGL_PROBE = """
import pkgutil, pybullet as p
c = p.connect(p.DIRECT)
egl = pkgutil.get_loader("eglRenderer")
pid = p.loadPlugin(egl.get_filename(), "_eglRendererPlugin") if egl else -1
print("EGL_PLUGIN", pid)
"""


def _rendering() -> Check:
    try:
        out = subprocess.run([sys.executable, "-c", _EGL_PROBE], capture_output=True, text=True, timeout=60)
    except subprocess.TimeoutExpired:
        return Check("egl_rendering", WARN, "EGL probe timed out", "rendering will use the CPU renderer")
    line = [ln for ln in out.stdout.splitlines() if ln.startswith("EGL_PLUGIN")]
    if out.returncode != 0 or not line:
        return Check("egl_rendering", FAIL, f"pybullet failed to start: {out.stderr.strip()[-300:]}", "run `make setup`")
    ok = int(line[0].split()[1]) >= 0
    return Check("egl_rendering", PASS if ok else WARN,
                 "PyBullet EGL renderer loads" if ok else "EGL plugin did not load: CPU (TINY) renderer fallback",
                 "" if ok else "apt-get install libegl1 libegl-mesa0 libgl1-mesa-dri for faster rendering")


def _torch() -> Check:
    try:
        import torch
    except Exception as exc:  # noqa: BLE001
        return Check("torch", FAIL, f"import torch failed: {exc}", "pip install torch==2.13.0 (never plain `torch`)")
    device = "cuda" if torch.cuda.is_available() else "cpu"
    return Check("torch", PASS, f"torch {torch.__version__}, device {device}")


def _modules() -> Check:
    missing = []
    for mod in ("numpy", "pybullet", "ompl", "cv2", "h5py", "gymnasium", "safetensors", "rosbags", "mcap", "ray",
                "dexsim_sim", "dexsim_policy", "dexsim_bringup"):
        try:
            __import__(mod)
        except Exception as exc:  # noqa: BLE001
            missing.append(f"{mod} ({exc.__class__.__name__}: {exc})")
    return Check("python_packages", FAIL if missing else PASS,
                 "missing: " + ", ".join(missing) if missing else "simulation, planning, learning and data packages import",
                 "run `make setup`" if missing else "")


CHECKS: tuple[Callable[[], Check | list[Check]], ...] = (
    _python, _modules, _rclpy, _dds_profile, _interfaces, _dds_roundtrip, _rendering, _torch)


def run_checks() -> list[Check]:
    results: list[Check] = []
    for fn in CHECKS:
        if fn is _dds_roundtrip and any(c.name == "dds_profile" and c.status == FAIL for c in results):
            results.append(Check("dds_roundtrip", FAIL, "skipped: the DDS profile is not usable", "fix dds_profile first"))
            continue
        out = fn()
        results.extend(out if isinstance(out, list) else [out])
    return results


def run(args) -> int:
    results = run_checks()
    ok = all(c.status != FAIL for c in results)
    if args.json:
        print(json.dumps({"ok": ok, "checks": [asdict(c) for c in results]}, indent=2))
    else:
        width = max(len(c.name) for c in results)
        for c in results:
            print(f"[{c.status:4}] {c.name:<{width}}  {c.detail}")
            if c.hint and c.status != PASS:
                print(f"{'':7}{'':<{width}}  fix: {c.hint}")
        print("doctor: all checks passed" if ok else "doctor: some checks FAILED")
    return 0 if ok else 1
