"""`reachscope serve` is safe to leave running (issue 9, point 13): real HTTP and websocket
connections to a real server process on 127.0.0.1."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import pytest
from reachscope.tui.app import create_app
from reachscope.tui.screens.trace import TraceScreen

from .browser import serving
from .helpers import open_first_trace


@pytest.fixture
def server(db_path: Path) -> Iterator[tuple[str, str]]:
    """A running `reachscope serve` (at most one session); yields (base URL, token)."""
    with serving(db_path, "--max-sessions", "1") as (base, token, _):
        yield base, token


async def test_token_origin_and_session_cap(server: tuple[str, str]) -> None:
    base, token = server
    ws_base = "ws" + base.removeprefix("http")
    async with aiohttp.ClientSession() as http:
        async with http.get(f"{base}/") as r:
            assert r.status == 403
        async with http.get(f"{base}/?token=wrong") as r:
            assert r.status == 403
        async with http.get(f"{base}/?token={token}") as r:
            assert r.status == 200
            page = await r.text()
        assert f"/ws/{token}" in page
        for url, headers in ((f"{ws_base}/ws", {}), (f"{ws_base}/ws/wrong", {}),
                             (f"{ws_base}/ws/{token}", {"Origin": "http://evil.example"})):
            with pytest.raises(aiohttp.WSServerHandshakeError) as err:
                await http.ws_connect(url + "?width=80&height=24", headers=headers)
            assert err.value.status == 403, url
        own = {"Origin": base}
        ws = await http.ws_connect(f"{ws_base}/ws/{token}?width=80&height=24", headers=own)
        try:
            # The app process starts and draws: bytes arrive on the socket.
            msg = await asyncio.wait_for(ws.receive(), timeout=60)
            assert msg.type in (aiohttp.WSMsgType.BINARY, aiohttp.WSMsgType.TEXT)
            with pytest.raises(aiohttp.WSServerHandshakeError) as err:
                await http.ws_connect(f"{ws_base}/ws/{token}?width=80&height=24", headers=own)
            assert err.value.status == 503
        finally:
            await ws.close()


async def test_served_app_is_read_only_unless_allowed(db_path: Path) -> None:
    app = create_app(db_path, poll_interval=0, allow_labels=False)
    async with app.run_test(size=(80, 24)) as pilot:
        await open_first_trace(pilot)
        assert isinstance(app.screen, TraceScreen)
        await pilot.press("a")
        await pilot.pause()
        assert isinstance(app.screen, TraceScreen)  # no label dialog


def test_serve_passes_allow_labels_to_the_app_process(monkeypatch, db_path: Path) -> None:
    from click.testing import CliRunner
    from reachscope.core.cli import cli

    commands = []

    class Recorder:
        def __init__(self, command: str, **_: object) -> None:
            commands.append(command)

        def serve(self) -> None:
            pass

    monkeypatch.setattr("reachscope.tui.serve.GuardedServer", Recorder)
    for extra in ([], ["--allow-labels"]):
        result = CliRunner().invoke(cli, ["serve", str(db_path), *extra])
        assert result.exit_code == 0, result.output
    assert not commands[0].endswith("--allow-labels")
    assert commands[1].endswith("--allow-labels")


def test_serve_binds_loopback_unless_told_and_says_so(monkeypatch, db_path: Path) -> None:
    from click.testing import CliRunner
    from reachscope.core.cli import cli
    from reachscope.tui.serve import GuardedServer

    hosts = []

    class Recorder:
        def __init__(self, command: str, host: str, **_: object) -> None:
            hosts.append(host)

        def serve(self) -> None:
            pass

    monkeypatch.setattr("reachscope.tui.serve.GuardedServer", Recorder)
    for extra in ([], ["--host", "0.0.0.0"]):
        result = CliRunner().invoke(cli, ["serve", str(db_path), *extra])
        assert result.exit_code == 0, result.output
    assert hosts == ["127.0.0.1", "0.0.0.0"]
    assert GuardedServer("true", "127.0.0.1", 8000).bind_note() == (
        "bound to 127.0.0.1 port 8000: only this machine can connect")
    assert "other machines can connect" in GuardedServer("true", "0.0.0.0", 8000).bind_note()
