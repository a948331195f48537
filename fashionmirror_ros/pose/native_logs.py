"""Quiet MediaPipe's native start-up chatter, keep everything else on stderr.

MediaPipe 0.10.21's C++ (absl logging, TensorFlow Lite) writes about 20 lines to file descriptor 2
when a pose node starts and at its first frames: "INFO: Created TensorFlow Lite XNNPACK delegate",
"WARNING: All log messages before absl::InitializeLog() ...", "W0000 ... inference_feedback_
manager.cc:114] Feedback manager requires ...". GLOG_minloglevel and TF_CPP_MIN_LOG_LEVEL are set
for builds that honour them, but this wheel's absl logger reads neither and exports no call to
set its level. So fd 2 is routed through a pipe and a thread forwards every line to the real
stderr except absl/TFLite lines below ERROR: ROS log lines, Python tracebacks and native
errors (E/F lines) pass unchanged, in order.

faulthandler is pointed at the real stderr, so a crash dump does not depend on the thread.
"""
from __future__ import annotations

import faulthandler
import os
import re
import sys
import threading

# absl / glog prefix: severity letter, MMDD, time ("00:00:1796398150.718165" before absl is
# initialised), thread id, file:line]
_ABSL_LINE = re.compile(rb"^[IW]\d{4} [\d:.]+\s+\d+ [\w./-]+:\d+\] ")
_CHATTER = (
    b"INFO: Created TensorFlow Lite",
    b"WARNING: All log messages before absl::InitializeLog() is called are written to STDERR",
)

_installed = False
_lock = threading.Lock()


def is_chatter(line: bytes) -> bool:
    """True for a native info/warning line of MediaPipe, TFLite or absl (dropped)."""
    return bool(_ABSL_LINE.match(line)) or line.startswith(_CHATTER)


def silence_native_logs() -> None:
    """Route fd 2 through the chatter filter (once per process; idempotent)."""
    global _installed
    os.environ.setdefault("GLOG_minloglevel", "2")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    try:
        from absl import logging as absl_logging

        absl_logging.set_verbosity(absl_logging.ERROR)
    except ImportError:
        pass  # no absl in this install: nothing of it to quieten
    with _lock:
        if _installed:
            return
        _installed = True
        sys.stderr.flush()
        real_stderr = os.dup(2)
        read_end, write_end = os.pipe()
        os.dup2(write_end, 2)
        os.close(write_end)
        real = os.fdopen(real_stderr, "wb", buffering=0)
        faulthandler.enable(file=real)
        threading.Thread(target=_forward, args=(read_end, real), name="native-log-filter",
                         daemon=True).start()


def _forward(read_end: int, real) -> None:
    pending = b""
    while True:
        chunk = os.read(read_end, 65536)
        if not chunk:
            if pending and not is_chatter(pending):
                real.write(pending)
            return
        pending += chunk
        *lines, pending = pending.split(b"\n")
        kept = [line + b"\n" for line in lines if not is_chatter(line)]
        if kept:
            real.write(b"".join(kept))
        # A partial line (no newline yet) that is not chatter is written at once rather than held:
        # a prompt or a dying process's last words must not wait for a newline that never comes.
        if pending and not is_chatter(pending) and not _could_be_chatter(pending):
            real.write(pending)
            pending = b""


def _could_be_chatter(partial: bytes) -> bool:
    """A partial line that may still turn into a chatter line once the rest arrives."""
    if any(prefix.startswith(partial) or partial.startswith(prefix) for prefix in _CHATTER):
        return True
    return bool(re.match(rb"^[IW][\d :.]*", partial)) and len(partial) < 200
