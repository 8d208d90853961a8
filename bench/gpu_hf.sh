#!/usr/bin/env bash
# The hf backend on CUDA with the tiny test model: prints tokens/s (and the bare transformers
# figure beside it). Self-contained, well under 3 minutes; needs python with torch (CUDA build),
# transformers and tokenizers, nothing of the network. reachscope need not be installed: the
# package is put on the path from this checkout.
#
#   bash bench/gpu_hf.sh            # PYTHON=/path/to/python to choose the interpreter
#
# Writes the figures as JSON to $OUT/gpu_hf.json when $OUT is set. RS_DRY_RUN=1 runs a small
# version on the CPU, to check the script itself where there is no GPU.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PY="${PYTHON:-python3}"
export RS_ROOT="$ROOT"
exec timeout 170 "$PY" - <<'PYEOF'
import importlib.util, json, os, sys, tempfile, time
from pathlib import Path

root = Path(os.environ["RS_ROOT"])
missing = [m for m in ("torch", "transformers", "tokenizers") if importlib.util.find_spec(m) is None]
if missing:
    sys.exit(f"gpu_hf: missing python packages: {', '.join(missing)}")
import torch
dry = os.environ.get("RS_DRY_RUN") == "1"
device = "cpu" if dry else "cuda"
def sync():
    if not dry:
        torch.cuda.synchronize()
if not dry and not torch.cuda.is_available():
    sys.exit(f"gpu_hf: torch {torch.__version__} sees no CUDA device")

tmp = Path(tempfile.mkdtemp(prefix="rs-gpu-"))
# reachscope.core from this checkout, without installing it (a namespace package of symlinks).
(tmp / "pkg" / "reachscope").mkdir(parents=True)
for name in ("core", "store"):
    (tmp / "pkg" / "reachscope" / name).symlink_to(root / name)
sys.path.insert(0, str(tmp / "pkg"))
spec = importlib.util.spec_from_file_location("tinymodel", root / "tests" / "core" / "tinymodel.py")
tinymodel = importlib.util.module_from_spec(spec); spec.loader.exec_module(tinymodel)

from reachscope.core.backends import GenerationParams, Request, make_backend
from reachscope.core.prompts import load_template
import transformers

model = tinymodel.build_tiny_model(tmp / "tiny")
template = load_template("qwen-boxed")
prompts = [template.render(f"What is {i} + {i * 7}?") for i in range(4 if dry else 64)]
N, MAX_TOKENS, BATCH = (4, 16, 16) if dry else (16, 256, 256)
params = GenerationParams(temperature=1.0, top_p=0.95, max_tokens=MAX_TOKENS)

backend = make_backend("hf", str(model), {"device": device, "batch_size": BATCH})


def run_backend():
    reqs = [Request(i, 0, N, seed=i, prompt=p) for i, p in enumerate(prompts)]
    sync()
    t0 = time.perf_counter()
    results = list(backend.generate(reqs, params))
    sync()
    return results, time.perf_counter() - t0


def run_bare():
    # Bare transformers on the same model object, same batches.
    m, tok = backend._model, backend._tokenizer
    per_call = BATCH // N
    sync()
    t0 = time.perf_counter(); bare_tokens = 0
    for i in range(0, len(prompts), per_call):
        enc = tok(prompts[i:i + per_call], return_tensors="pt", padding=True,
                  add_special_tokens=False).to(device)
        with torch.inference_mode():
            out = m.generate(**enc, max_new_tokens=MAX_TOKENS, do_sample=True, temperature=1.0,
                             top_p=0.95, top_k=0, num_return_sequences=N,
                             pad_token_id=tok.pad_token_id)
        for row in out[:, enc["input_ids"].shape[1]:].tolist():
            bare_tokens += row.index(tok.eos_token_id) if tok.eos_token_id in row else len(row)
    sync()
    return bare_tokens, time.perf_counter() - t0


rounds = []
with backend:
    list(backend.generate([Request(0, 0, 2, seed=0, prompt=prompts[0])], params))  # warm up
    # Alternate the two, several rounds: the first call of a new shape pays CUDA warm-up.
    for _ in range(1 if dry else 3):
        results, elapsed = run_backend()
        bare_tokens, bare_elapsed = run_bare()
        tokens = sum(r.tokens for r in results)
        rounds.append((tokens / elapsed, bare_tokens / bare_elapsed))
        print(f"round: reachscope hf {rounds[-1][0]:.0f} tok/s, bare {rounds[-1][1]:.0f} tok/s")
    errors = [r.error for r in results if r.error]
    samples = sum(len(r.completions) for r in results)
figures = {
    "gpu": "cpu (dry run)" if dry else torch.cuda.get_device_name(0), "torch": torch.__version__,
    "transformers": transformers.__version__, "prompts": len(prompts), "n": N,
    "max_tokens": MAX_TOKENS, "batch_size": BATCH, "samples": samples, "errors": len(errors),
    "tokens": tokens, "seconds": round(elapsed, 3), "tokens_per_s": round(tokens / elapsed, 1),
    "bare_tokens_per_s": round(bare_tokens / bare_elapsed, 1),
    "rounds_tokens_per_s": [[round(a, 1), round(b, 1)] for a, b in rounds],
}
print(f"hf backend on {figures['gpu']}: {figures['tokens_per_s']} tok/s "
      f"({samples} samples, {tokens} tokens in {elapsed:.2f} s; bare transformers "
      f"{figures['bare_tokens_per_s']} tok/s)")
if errors:
    print("errors:", errors[:3])
if os.environ.get("OUT"):
    Path(os.environ["OUT"], "gpu_hf.json").write_text(json.dumps(figures, indent=2))
PYEOF
