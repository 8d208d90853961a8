"""A headless Chromium driven over the DevTools protocol (aiohttp's websocket client), for the
tests that check what a real browser renders: the HTML report and `reachscope serve`.

Chromium comes from Debian's packages (`.ci/install.sh` installs it). Without it the browser
tests fail with a message saying so, unless ``REACHSCOPE_NO_BROWSER=1`` opts out explicitly.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any

import aiohttp
import pytest

#: Set to 1 to skip the browser tests on a machine without Chromium (CI never sets it).
OPT_OUT = "REACHSCOPE_NO_BROWSER"


def chromium_path() -> str:
    """The Chromium binary, or a test failure that says how to get one."""
    found = os.environ.get("REACHSCOPE_CHROMIUM") or shutil.which("chromium") or \
        shutil.which("chromium-browser")
    if found:
        return found
    if os.environ.get(OPT_OUT) == "1":
        pytest.skip(f"no chromium and {OPT_OUT}=1")
    pytest.fail("chromium is not installed (apt-get install -y chromium, as .ci/install.sh "
                f"does); set {OPT_OUT}=1 to skip the browser tests on purpose", pytrace=False)


class Page:
    """One browser tab: send DevTools commands, collect events."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.ws = ws
        self.ids = itertools.count(1)
        self.pending: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self.events: list[dict[str, Any]] = []
        self.reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        async for msg in self.ws:
            data = json.loads(msg.data)
            if "id" in data and data["id"] in self.pending:
                self.pending.pop(data["id"]).set_result(data)
            else:
                self.events.append(data)

    async def send(self, method: str, timeout: float = 30, **params: Any) -> dict[str, Any]:
        """Run one command; its result (a protocol error fails the test)."""
        ident = next(self.ids)
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self.pending[ident] = future
        await self.ws.send_str(json.dumps({"id": ident, "method": method, "params": params}))
        reply = await asyncio.wait_for(future, timeout)
        assert "error" not in reply, f"{method}: {reply['error']}"
        return dict(reply["result"])

    async def evaluate(self, expression: str, timeout: float = 30) -> Any:
        """The value of a JavaScript expression (promises awaited) in the page."""
        result = await self.send("Runtime.evaluate", timeout=timeout + 5, expression=expression,
                                 returnByValue=True, awaitPromise=True)
        assert "exceptionDetails" not in result, result["exceptionDetails"]
        return result["result"].get("value")

    async def wait_for(self, condition: str, timeout: float, what: str) -> Any:
        """Wait (inside the page, on animation frames) until ``condition`` is truthy; its value."""
        js = f"""new Promise((resolve) => {{
            const end = performance.now() + {timeout * 1000};
            const poll = () => {{
                let v; try {{ v = ({condition}); }} catch (e) {{ v = null; }}
                if (v || performance.now() > end) resolve(v || null);
                else setTimeout(poll, 50);
            }};
            poll();
        }})"""
        value = await self.evaluate(js, timeout=timeout)
        assert value, f"timed out after {timeout} s waiting for {what}"
        return value

    async def navigate(self, url: str, timeout: float = 60) -> None:
        """Open ``url`` and wait for its load event."""
        start = len(self.events)
        await self.send("Page.navigate", url=url)
        deadline = time.monotonic() + timeout
        while not any(e.get("method") == "Page.loadEventFired" for e in self.events[start:]):
            assert time.monotonic() < deadline, f"{url} did not load in {timeout} s"
            await asyncio.sleep(0.05)

    async def key(self, key: str, code: str, key_code: int, text: str | None = None) -> None:
        """Press and release one key, as a user's keyboard does."""
        down: dict[str, Any] = {"type": "keyDown", "key": key, "code": code,
                                "windowsVirtualKeyCode": key_code}
        if text is not None:
            down["text"] = text
        await self.send("Input.dispatchKeyEvent", **down)
        await self.send("Input.dispatchKeyEvent", type="keyUp", key=key, code=code,
                        windowsVirtualKeyCode=key_code)

    def console_errors(self) -> list[str]:
        """Messages the page logged as errors or threw."""
        out = []
        for e in self.events:
            if e.get("method") == "Runtime.exceptionThrown":
                out.append(e["params"]["exceptionDetails"].get("text", "exception"))
            elif e.get("method") == "Runtime.consoleAPICalled" and \
                    e["params"]["type"] == "error":
                out.append(" ".join(str(a.get("value", a.get("description", "")))
                                    for a in e["params"]["args"]))
        return out


@asynccontextmanager
async def browser(profile: Path, width: int = 1280, height: int = 900) -> AsyncIterator[Page]:
    """A headless Chromium with one tab, closed (its whole process group) afterwards."""
    binary = chromium_path()
    proc = subprocess.Popen(
        [binary, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
         "--no-default-browser-check", "--disable-extensions", "--disable-sync",
         "--disable-background-networking", "--disable-component-update", "--mute-audio",
         f"--user-data-dir={profile}", "--remote-debugging-port=0",
         "--remote-debugging-address=127.0.0.1", f"--window-size={width},{height}",
         "about:blank"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        # Chromium writes the port it chose to this file once it listens.
        port_file = profile / "DevToolsActivePort"
        deadline = time.monotonic() + 60
        while not (port_file.exists() and port_file.read_text().count("\n") >= 1):
            assert proc.poll() is None, f"chromium exited ({proc.returncode})"
            assert time.monotonic() < deadline, "chromium did not open its DevTools port"
            await asyncio.sleep(0.05)
        port = int(port_file.read_text().split()[0])
        async with aiohttp.ClientSession() as http:
            async with http.get(f"http://127.0.0.1:{port}/json/list") as r:
                targets = await r.json(content_type=None)
            url = next(t["webSocketDebuggerUrl"] for t in targets if t["type"] == "page")
            async with http.ws_connect(url, max_msg_size=0) as ws:
                page = Page(ws)
                for domain in ("Page", "Runtime"):
                    await page.send(f"{domain}.enable")
                try:
                    yield page
                finally:
                    page.reader.cancel()
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def serving(db: Path, *extra: str, host: str = "127.0.0.1") -> Iterator[tuple[str, str, str]]:
    """A running `reachscope serve DB` on a free port; yields (base URL, token, what it
    printed up to the line saying where it binds), once the server accepts connections.
    Stopped (its process group) afterwards."""
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "reachscope.core.cli", "serve", str(db), "--host", host,
         "--port", str(port), *extra],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)
    try:
        assert proc.stdout is not None
        lines = []
        for line in proc.stdout:  # ends when the process exits: bounded
            lines.append(line)
            m = re.search(r"serving on (http://\S+)/\?token=(\S+)", line)
            if m:
                lines.append(proc.stdout.readline())  # the line saying where it binds
                # The URL is printed just before the server binds: wait (bounded) for it.
                deadline = time.monotonic() + 60
                while True:
                    try:
                        socket.create_connection(("127.0.0.1", port), timeout=1).close()
                        break
                    except OSError:
                        assert proc.poll() is None, "serve exited before listening"
                        assert time.monotonic() < deadline, "serve never started listening"
                        time.sleep(0.1)
                yield m.group(1), m.group(2), "".join(lines)
                break
        else:
            pytest.fail(f"serve printed no URL (exit {proc.wait()}): {''.join(lines)}")
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)
