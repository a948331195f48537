"""Ctrl-C ends a node once, quietly, with exit code 0.

Under `ros2 launch` in a terminal, Ctrl-C reaches every node twice: the terminal sends SIGINT to
the whole process group, then launch sends its own. Python's default handler raises
KeyboardInterrupt for each, so the second one lands inside the clean-up (destroy_node(),
MediaPipe's close()) and prints a traceback; an interrupt that escapes makes Python exit by
SIGINT (launch: "process has died ... exit code -2"). This handler raises KeyboardInterrupt for
the first SIGINT only and ignores the rest. It is installed before rclpy.init(), so rclpy's own
handler (which wakes the executor) still runs first and chains to it.

No heavy imports here: it is installed before the node module imports torch or MediaPipe, so a
Ctrl-C during those seconds of start-up is quiet too.
"""
from __future__ import annotations

import signal

_interrupted = False


def _on_sigint(signum, frame) -> None:
    global _interrupted
    if _interrupted:
        return
    _interrupted = True
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    raise KeyboardInterrupt


def install_interrupt_guard() -> None:
    """First SIGINT -> KeyboardInterrupt in the main thread; every later SIGINT is ignored."""
    if not _interrupted:
        signal.signal(signal.SIGINT, _on_sigint)


def ignore_interrupts() -> None:
    """From now on SIGINT does nothing (called when a shutdown has begun for another reason)."""
    global _interrupted
    _interrupted = True
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def interrupted() -> bool:
    return _interrupted
