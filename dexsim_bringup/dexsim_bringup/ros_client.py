"""A client-side rclpy node spinning in a background thread, for the CLI (demo, eval, bench).

Always used as a context manager: the executor is shut down and its thread joined before the
process exits (a process that leaves an executor spinning aborts with exit code 134).
"""
from __future__ import annotations

import threading
import time
from collections.abc import Callable

from .dds import apply_loopback


class RosClient:
    def __init__(self, name: str = "dexsim_cli") -> None:
        apply_loopback()
        import rclpy
        from rclpy.executors import MultiThreadedExecutor

        self._rclpy = rclpy
        self.context = rclpy.Context()
        rclpy.init(context=self.context)
        self.node = rclpy.create_node(name, context=self.context)
        self.executor = MultiThreadedExecutor(num_threads=2, context=self.context)
        self.executor.add_node(self.node)
        self._thread = threading.Thread(target=self.executor.spin, daemon=True, name=f"{name}_spin")
        self._thread.start()

    def wait_for(self, predicate: Callable[[], bool], timeout: float, interval: float = 0.02) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if predicate():
                return True
            time.sleep(interval)
        return bool(predicate())

    def result(self, future, timeout: float):
        if not self.wait_for(future.done, timeout):
            raise TimeoutError(f"no answer within {timeout:.0f} s")
        return future.result()

    def call(self, client, request, timeout: float, attempts: int = 3):
        """Call an idempotent service, retrying when no answer comes: right after discovery the
        server's response can be lost before its writer has matched this client (a DDS race)."""
        per_try = timeout / attempts
        for attempt in range(attempts):
            future = client.call_async(request)
            if self.wait_for(future.done, per_try):
                return future.result()
            client.remove_pending_request(future)
        raise TimeoutError(f"no answer from {client.srv_name} in {attempts} tries within {timeout:.0f} s")

    def close(self) -> None:
        self.executor.shutdown()
        self._thread.join(timeout=5)
        self.node.destroy_node()
        self._rclpy.try_shutdown(context=self.context)

    def __enter__(self) -> "RosClient":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
