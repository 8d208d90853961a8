"""`reachscope serve`: textual-serve with the guards a server left running needs.

Any web page the user has open can reach ``localhost``, so the served app requires the random
token printed at start (as Jupyter does), rejects websocket connections from foreign Origins and
caps how many app processes run at once (each session is one process).
"""

from __future__ import annotations

import hmac
import secrets
from typing import Any

from aiohttp import web
from textual_serve.server import Server


class GuardedServer(Server):
    """A textual-serve server with a URL token, an Origin check and a session cap."""

    def __init__(self, command: str, host: str, port: int, max_sessions: int = 4,
                 token: str | None = None, title: str = "reachscope") -> None:
        super().__init__(command, host=host, port=port, title=title)
        self.token = token or secrets.token_urlsafe(24)
        self.max_sessions = max_sessions
        self.sessions = 0

    @property
    def url(self) -> str:
        """The address to open (with its token)."""
        return f"{self.public_url}/?token={self.token}"

    def bind_note(self) -> str:
        """Which address the server listens on, and who can therefore reach it."""
        if self.host in ("127.0.0.1", "localhost", "::1"):
            return f"bound to {self.host} port {self.port}: only this machine can connect"
        return (f"bound to {self.host} port {self.port}: other machines can connect "
                "(anyone with the token can use the app)")

    def _token_ok(self, given: str | None) -> bool:
        return given is not None and hmac.compare_digest(given, self.token)

    def _origin_ok(self, request: web.Request) -> bool:
        origin = request.headers.get("Origin")
        if origin is None:
            return True  # not a browser page (a browser always sends Origin on websockets)
        own = {self.public_url, f"http://{request.host}", f"https://{request.host}"}
        return origin.rstrip("/") in own

    async def _make_app(self) -> web.Application:
        app = await super()._make_app()
        # The page's websocket URL gets "?width=..&height=.." appended, so the token is a path
        # segment there.
        app.router.add_get("/ws/{token}", self.handle_websocket, name="guarded-websocket")
        return app

    async def handle_index(self, request: web.Request) -> Any:
        if not self._token_ok(request.query.get("token")):
            raise web.HTTPForbidden(text="reachscope serve: open the URL printed at start "
                                         "(it carries the session token)")
        import aiohttp_jinja2

        context = await Server.handle_index.__wrapped__(self, request)  # type: ignore[attr-defined]
        ws = context["app_websocket_url"]
        context["app_websocket_url"] = f"{ws}/{self.token}"
        return aiohttp_jinja2.render_template("app_index.html", request, context)

    async def on_startup(self, app: web.Application) -> None:
        # Plain print: a console would wrap the long URL at the terminal width.
        print(f"reachscope: serving on {self.url}", flush=True)
        print(f"reachscope: {self.bind_note()}", flush=True)
        print("Press Ctrl+C to quit", flush=True)

    async def handle_websocket(self, request: web.Request) -> web.StreamResponse:
        if not self._token_ok(request.match_info.get("token")):
            raise web.HTTPForbidden(text="bad or missing token")
        if not self._origin_ok(request):
            raise web.HTTPForbidden(text="foreign Origin")
        if self.sessions >= self.max_sessions:
            raise web.HTTPServiceUnavailable(
                text=f"at most {self.max_sessions} sessions at once; close a tab")
        self.sessions += 1
        try:
            return await super().handle_websocket(request)
        finally:
            self.sessions -= 1
