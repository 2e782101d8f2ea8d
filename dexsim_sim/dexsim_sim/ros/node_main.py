"""The `main()` of a DexSim node: init, spin until SIGINT/SIGTERM, shut down cleanly.

The executor is always shut down before the process exits (a process that leaves an executor
spinning aborts with exit code 134 even after rclpy.shutdown()).
"""
from __future__ import annotations

import sys
from collections.abc import Callable

EXIT_OK = 0
EXIT_CONFIG_ERROR = 2


def run_node(make_node: Callable[[], object], *, name: str, num_threads: int = 1,
             config_errors: tuple[type[BaseException], ...] = (), close: Callable[[object], None] | None = None,
             args: list[str] | None = None) -> int:
    """Build the node with ``make_node`` and spin it; returns the exit code.

    ``config_errors`` raised by the node (bad parameters, unusable inputs) are printed as one line
    naming the node and give exit code 2; ``close(node)`` runs before the node is destroyed
    (e.g. to finalise a bag).
    """
    import rclpy
    from rclpy.executors import ExternalShutdownException, MultiThreadedExecutor, SingleThreadedExecutor

    rclpy.init(args=args)
    executor = MultiThreadedExecutor(num_threads=num_threads) if num_threads > 1 else SingleThreadedExecutor()
    node = None
    try:
        node = make_node()
        executor.add_node(node)
        executor.spin()
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
    return EXIT_OK
