"""Keep the renderer's native chatter (PyBullet's build banner, the EGL plugin's GL_VENDOR /
``ven = Mesa`` lines, "Destroy EGL OpenGL window") out of the console: C code writes straight to
file descriptors 1 and 2, so :func:`native_output_to_log` points them at a log file for the few
calls that talk (connect, plugin load, disconnect) and restores them afterwards.

The log is ``$DEXSIM_RENDERER_LOG`` or ``<tmp>/dexsim_renderer.log`` (appended). ``DEXSIM_RENDERER_LOG=-``
leaves the console alone.
"""
from __future__ import annotations

import contextlib
import os
import sys
import tempfile
import threading
from pathlib import Path

LOG_ENV = "DEXSIM_RENDERER_LOG"
_LOCK = threading.Lock()


def renderer_log_path() -> Path | None:
    value = os.environ.get(LOG_ENV, "")
    if value == "-":
        return None
    return Path(value) if value else Path(tempfile.gettempdir()) / "dexsim_renderer.log"


@contextlib.contextmanager
def native_output_to_log():
    """fds 1 and 2 -> the renderer log inside the block (Python-level streams are flushed first)."""
    path = renderer_log_path()
    if path is None:
        yield
        return
    with _LOCK:
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(Exception):
                stream.flush()
        try:
            log = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        except OSError:          # an unwritable log must not stop the simulation
            yield
            return
        saved = [os.dup(1), os.dup(2)]
        try:
            os.dup2(log, 1)
            os.dup2(log, 2)
            yield
        finally:
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            for fd in (*saved, log):
                os.close(fd)
