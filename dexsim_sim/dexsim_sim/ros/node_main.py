"""The `main()` of a DexSim node: init, spin until SIGINT/SIGTERM, shut down cleanly.

The node owns its signals (rclpy's own handler is off): SIGINT or SIGTERM set a flag that the spin
loop checks, so the context is never shut down under a waiting executor (rclpy then raises
"failed to initialize wait set: the given context is not valid" from ``spin()`` at random, and
the process exited 1 after a clean stop). The executor is always shut down before the process
exits (a process that leaves an executor spinning aborts with exit code 134).
"""
from __future__ import annotations

import sys
from collections.abc import Callable

EXIT_OK = 0
EXIT_FAILED = 1             # the node stopped itself (its own thread failed; logged)
EXIT_CONFIG_ERROR = 2
SPIN_SLICE_S = 0.2          # s: the longest a stop request waits for the spin loop


def run_node(make_node: Callable[[], object], *, name: str, num_threads: int = 1,
             config_errors: tuple[type[BaseException], ...] = (), close: Callable[[object], None] | None = None,
             stopped: Callable[[object], bool] | None = None, on_stop: Callable[[object], None] | None = None,
             args: list[str] | None = None) -> int:
    """Build the node with ``make_node`` and spin it; returns the exit code.

    ``config_errors`` raised by the node (bad parameters, unusable inputs) are printed as one line
    naming the node and give exit code 2; ``stopped(node)`` true ends the spin with exit code 1 (the
    node's own thread failed); ``on_stop(node)`` runs while the executor still spins (one more slice
    follows, e.g. for a cancel request to go out); ``close(node)`` runs after the executor is shut
    down, before the node is destroyed (e.g. to finalise a bag).
    """
    import signal
    import threading

    import rclpy
    from rclpy.executors import ExternalShutdownException, MultiThreadedExecutor, SingleThreadedExecutor
    from rclpy.signals import SignalHandlerOptions

    from .params import ParamError

    config_errors = (*config_errors, ParamError)
    rclpy.init(args=args, signal_handler_options=SignalHandlerOptions.NO)
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    executor = MultiThreadedExecutor(num_threads=num_threads) if num_threads > 1 else SingleThreadedExecutor()
    from rclpy.exceptions import ParameterException

    config_errors = (*config_errors, ParameterException)
    node, code = None, EXIT_OK
    try:
        node = make_node()
        executor.add_node(node)
        while not stop.is_set() and rclpy.ok():
            if stopped is not None and stopped(node):
                code = EXIT_FAILED
                break
            executor.spin_once(timeout_sec=SPIN_SLICE_S)
        if on_stop is not None:
            on_stop(node)
            executor.spin_once(timeout_sec=SPIN_SLICE_S)
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    except config_errors as exc:
        print(f"{name}: error: {exc}", file=sys.stderr)
        return EXIT_CONFIG_ERROR
    finally:
        executor.shutdown()
        if node is not None:
            if close is not None:
                close(node)
            node.destroy_node()
        rclpy.try_shutdown()
    return code
