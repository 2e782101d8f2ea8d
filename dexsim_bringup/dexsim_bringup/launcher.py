"""Pip-mode bringup: start a :class:`~dexsim_bringup.graph.Graph`'s nodes as processes.

`ros2 launch` does not exist without a ROS install; this runs the same graph description.
Every process gets the loopback-only DDS environment (unless DEXSIM_DDS=network), its
parameters through a ``ros__parameters`` YAML file (the format launch files use), and its
remaps as ``--ros-args -r``. Ctrl-C (or the end of ``duration``) stops the nodes with SIGINT,
then SIGKILL after a grace period.
"""
from __future__ import annotations

import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import yaml

from .dds import loopback_env
from .graph import Graph, NodeSpec

STOP_GRACE_S = 10.0
POLL_S = 0.2


class LaunchError(RuntimeError):
    """A node of the graph failed to start or died."""


def node_command(spec: NodeSpec, params_file: Path) -> list[str]:
    cmd = [sys.executable, "-m", spec.module, "--ros-args", "-r", f"__node:={spec.name}",
           "--params-file", str(params_file)]
    if spec.namespace:
        cmd += ["-r", f"__ns:={spec.namespace}"]
    for src, dst in spec.remappings:
        cmd += ["-r", f"{src}:={dst}"]
    return cmd


def write_params(spec: NodeSpec, directory: Path) -> Path:
    path = directory / f"{spec.name}.params.yaml"
    fq = f"{spec.namespace.rstrip('/')}/{spec.name}" if spec.namespace else spec.name
    path.write_text(yaml.safe_dump({fq: {"ros__parameters": spec.parameters}}, sort_keys=True))
    return path


@dataclass
class RunningNode:
    spec: NodeSpec
    proc: subprocess.Popen
    log: Path


class Launcher:
    """Starts a graph's nodes; use as a context manager so they are always stopped."""

    def __init__(self, graph: Graph, log_dir: str | Path | None = None, env: dict[str, str] | None = None,
                 quiet: bool = False) -> None:
        self.graph = graph
        self._tmp = tempfile.TemporaryDirectory(prefix=f"dexsim_{graph.name}_")
        self.log_dir = Path(log_dir) if log_dir else Path(self._tmp.name)
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self.env = loopback_env(env)
        self.quiet = quiet
        self.nodes: list[RunningNode] = []

    def start(self) -> None:
        for ext in (*self.graph.includes, *self.graph.external):
            if not self.quiet:
                print(f"[dexsim up] skipping {ext.name} (pip mode: {ext.why_not_in_pip_mode})", file=sys.stderr)
        for spec in self.graph.nodes:
            params = write_params(spec, Path(self._tmp.name))
            log = self.log_dir / f"{spec.name}.log"
            fh = open(log, "wb")  # noqa: SIM115 - closed with the process
            proc = subprocess.Popen(node_command(spec, params), stdout=fh, stderr=subprocess.STDOUT, env=self.env)
            self.nodes.append(RunningNode(spec, proc, log))
            if not self.quiet:
                print(f"[dexsim up] started {spec.name} (pid {proc.pid}, log {log})", file=sys.stderr)

    def check_alive(self) -> None:
        for n in self.nodes:
            code = n.proc.poll()
            if code is not None:
                tail = n.log.read_text(errors="replace")[-2000:] if n.log.exists() else ""
                raise LaunchError(f"node {n.spec.name} exited with code {code}; last output:\n{tail}")

    def wait(self, duration: float | None = None) -> None:
        """Block until Ctrl-C, ``duration`` seconds, or a node dies (LaunchError)."""
        t_end = None if duration is None else time.monotonic() + duration
        while t_end is None or time.monotonic() < t_end:
            self.check_alive()
            time.sleep(POLL_S)

    def stop(self) -> dict[str, int]:
        for n in self.nodes:
            if n.proc.poll() is None:
                n.proc.send_signal(signal.SIGINT)
        codes = {}
        deadline = time.monotonic() + STOP_GRACE_S
        for n in self.nodes:
            try:
                n.proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                n.proc.kill()
                n.proc.wait()
            codes[n.spec.name] = n.proc.returncode
        self.nodes.clear()
        return codes

    def __enter__(self) -> "Launcher":
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()
        self._tmp.cleanup()
