#!/usr/bin/env bash
# Installed, not only checked out: build a wheel from this tree, install it into a fresh virtual
# environment, and from another directory open the demo database through the installed package
# (`reachscope report` with no path, and the app itself, headless). The demo must be untouched.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT="$(pwd)"
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
.venv/bin/python -m build --wheel --outdir "$WORK/dist" . >"$WORK/build.log" 2>&1 \
    || { tail -30 "$WORK/build.log"; exit 1; }
python3 -m venv "$WORK/venv"
"$WORK/venv/bin/python" -m pip install -q "$WORK"/dist/reachscope-*.whl >"$WORK/pip.log" 2>&1 \
    || { grep -v "^WARNING: Location" "$WORK/pip.log" | tail -30; exit 1; }
cd "$WORK"  # away from the checkout: nothing may resolve through the source tree
"$WORK/venv/bin/python" - <<'PY'
import asyncio, hashlib, os, subprocess, sys
from pathlib import Path

import reachscope.core
from reachscope.core.demo import demo_db_path

demo = demo_db_path()
assert "site-packages" in str(demo), f"demo resolved outside the installed package: {demo}"
assert "site-packages" in reachscope.core.__file__, reachscope.core.__file__
before = hashlib.sha256(demo.read_bytes()).hexdigest(), sorted(os.listdir(demo.parent))
out = subprocess.run([str(Path(sys.executable).parent / "reachscope"), "report", "--format",
                      "json", "--bootstrap", "0"], capture_output=True, text=True)
assert out.returncode == 0, out.stderr
assert '"pass_at_k"' in out.stdout or '"runs"' in out.stdout, out.stdout[:500]

from reachscope.core.commands.tui import resolve_db
from reachscope.tui.app import create_app


async def main() -> None:
    app = create_app(resolve_db(None))
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        await app.workers.wait_for_complete()
        await pilot.pause()
        text = " ".join(str(w.render()) for w in app.screen.query("*") if w.display)
        assert "qwen" in text.lower() or "lab" in text.lower(), text[:1000]

asyncio.run(main())
# The Python API, as a notebook would use it: the installed top-level package, read-only.
api = subprocess.run([sys.executable, "-c", (
    "import reachscope, sys; assert 'site-packages' in reachscope.__file__, reachscope.__file__; "
    "assert 'pandas' not in sys.modules; "
    f"db = reachscope.open({str(demo)!r}); pk = db.pass_at_k(['base', 'rl'], ks=[1, 4], "
    "bootstrap=0); assert pk.shape[0] == 4, pk; "
    "page = next(db.samples('rl', page_size=3)); assert len(page) == 3; db.close(); "
    "print('api ok')")],
    capture_output=True, text=True)
assert api.returncode == 0 and "api ok" in api.stdout, api.stderr[-2000:]

after = hashlib.sha256(demo.read_bytes()).hexdigest(), sorted(os.listdir(demo.parent))
assert before == after, f"the installed demo changed: {before} -> {after}"
print(f"wheel check: installed demo opened by report, the app and the Python API ({demo})")
PY
