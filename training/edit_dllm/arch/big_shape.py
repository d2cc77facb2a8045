"""8B-shaped runs on a CPU machine: random checkpoints with the exact per-layer geometry of LLaDA-8B and
Dream-7B but only 2 layers, converted to fp16 and int4 (external data above 1.8 GB), for the engine's
memory and per-layer timing figures (docs/bench.md "8B-shaped"; the engine side: bench/big-shape.mjs).

    python -m edit_dllm.arch.big_shape --family llada|dream --dtype fp16|int4 [--out ../models/big-shape]

Writes <out>/<family>-2l-<dtype>/ (git-ignored) and prints its file sizes, peak RSS of the conversion
and the seconds it took. The tokenizer is the fixtures' small BPE (the embedding keeps all 126,464 /
152,064 rows; rows past the tokenizer are zero, as padding rows are in released checkpoints).
"""
from __future__ import annotations

import argparse
import json
import resource
import shutil
import time
from pathlib import Path

import torch

from .tiny import build_tiny_checkpoint

ROOT = Path(__file__).resolve().parents[3]
# Per-layer geometry of the released models (config.json of GSAI-ML/LLaDA-8B-Instruct, Dream-org/Dream-v0-Instruct-7B).
SHAPES = {
    "llada": {"d_model": 4096, "n_heads": 32, "n_kv_heads": 32, "mlp_hidden_size": 12288, "n_layers": 2,
              "embedding_size": 126464, "vocab_size": 126464, "rope_theta": 500000.0},
    "dream": {"hidden_size": 3584, "num_attention_heads": 28, "num_key_value_heads": 4, "intermediate_size": 18944,
              "num_hidden_layers": 2, "vocab_size": 152064, "rope_theta": 1000000.0},
}
FULL_LAYERS = {"llada": 32, "dream": 28}


def build(family: str, dtype: str, out_root: Path) -> dict:
    from ..convert import convert
    out_root.mkdir(parents=True, exist_ok=True)
    ckpt = out_root / f"{family}-2l-ckpt"
    t0 = time.time()
    if not (ckpt / "config.json").exists():
        build_tiny_checkpoint(family, ckpt, dims=SHAPES[family])
    t_ckpt = time.time() - t0
    out = out_root / f"{family}-2l-{dtype}"
    t0 = time.time()
    # No adapter (no probes: the full/confidence rules run); random weights: no int4 agreement check.
    # max_len 4096: LLaDA-8B's max_sequence_length (the tiny config's 256 would refuse the 1k-token prompt).
    b = convert(ckpt, out, adapter=None, dtype=dtype, name=f"{family}-{'8b' if family == 'llada' else '7b'}-shape-2l-{dtype}", min_top1=None,
                vocab_check=False, parity_tol=None, max_len=4096, log=print)
    files = {f.name: f.stat().st_size for f in sorted(out.glob("model.onnx*"))}
    row = {"family": family, "dtype": dtype, "params": b["model"]["params"], "files": files,
           "bytes": sum(files.values()), "checkpoint_s": round(t_ckpt, 1), "convert_s": round(time.time() - t0, 1),
           "peak_rss_bytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024}
    print(json.dumps(row), flush=True)
    return row


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--family", choices=tuple(SHAPES), required=True)
    ap.add_argument("--dtype", choices=("fp16", "int4"), required=True)
    ap.add_argument("--out", default=str(ROOT / "models" / "big-shape"))
    ap.add_argument("--results", default=str(ROOT / "bench" / "big-shape-convert.json"))
    ap.add_argument("--drop-checkpoint", action="store_true", help="delete the random checkpoint afterwards")
    a = ap.parse_args()
    torch.set_num_threads(1)
    row = build(a.family, a.dtype, Path(a.out))
    res = Path(a.results)
    rows = json.loads(res.read_text()) if res.exists() else []
    rows = [r for r in rows if (r["family"], r["dtype"]) != (a.family, a.dtype)] + [row]
    res.write_text(json.dumps(rows, indent=1) + "\n")
    if a.drop_checkpoint:
        shutil.rmtree(Path(a.out) / f"{a.family}-2l-ckpt", ignore_errors=True)


if __name__ == "__main__":
    main()
