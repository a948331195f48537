"""A node of the package in its own OS process, as ros2 run / ros2 launch start it, for tests.

stdout and stderr go to files, so a test can wait for a line and read everything the node printed.
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

PARAMS_FILE = Path(__file__).resolve().parents[1] / "config" / "mirror.yaml"


class NodeProcess:
    def __init__(self, node: str, log_dir: Path, parameters: dict | None = None,
                 ros_args: list[str] | None = None, env: dict | None = None, name: str | None = None):
        self.name = name or node
        log_dir.mkdir(parents=True, exist_ok=True)
        self.stdout_path = log_dir / f"{self.name}.out"
        self.stderr_path = log_dir / f"{self.name}.err"
        argv = [sys.executable, "-m", "fashionmirror_ros.nodes", node, "--ros-args",
                "--params-file", str(PARAMS_FILE)]
        for key, value in (parameters or {}).items():
            # Node-specific: a plain -p rule is /** and loses to the file's /**/<node> entries.
            argv += ["-p", f"{node}:{key}:={value}"]
        argv += ros_args or []
        with open(self.stdout_path, "wb") as out, open(self.stderr_path, "wb") as err:
            self.process = subprocess.Popen(argv, stdout=out, stderr=err,
                                            env=dict(os.environ, **(env or {})))

    @property
    def stderr(self) -> str:
        return self.stderr_path.read_text(errors="replace")

    @property
    def output(self) -> str:
        return self.stdout_path.read_text(errors="replace") + self.stderr

    def wait_for_text(self, text: str, timeout: float) -> bool:
        """True once `text` is in the node's output; False on time-out or if the node exited."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if text in self.output:
                return True
            if self.process.poll() is not None:
                return text in self.output
            time.sleep(0.1)
        return False

    def interrupt(self, times: int = 1, gap_s: float = 0.02) -> None:
        """SIGINT `times` times, `gap_s` apart (Ctrl-C under ros2 launch arrives twice)."""
        for index in range(times):
            if self.process.poll() is None:
                self.process.send_signal(signal.SIGINT)
            if index + 1 < times:
                time.sleep(gap_s)

    def wait(self, timeout: float) -> int | None:
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            return None

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            if self.wait(10) is None:
                self.process.kill()
                self.process.wait()
