"""SDAR-1.7B-shaped slices through convert + ONNX Runtime: size, resident memory and per-forward time, and
the full model projected from them (issue 20, item 5).

    python -m edit_dllm.block_slice [--out models/block-slices] [--dtypes fp32 int8] [--threads 1 2]

Builds random checkpoints with SDAR-1.7B's geometry (Qwen3-1.7B: hidden 2048, 16 heads, 8 K/V heads of
128, MLP 6144, vocabulary 151,936, tied head, block size 4) and 1 and 2 layers in the official layout
(config.json + safetensors + a word-level tokenizer.json with the released special-token ids), converts
each with `edit_dllm.convert`, and measures each bundle in a fresh process: file bytes, peak and final RSS
(/proc VmHWM, VmRSS), and the median time of a prefill forward (512 prompt tokens, no past) and of a
block forward (4 tokens against 512 cached positions, SDAR's decode step) at 1 and 2 threads.
Projection to the released 28 layers: per layer = (2 layers) - (1 layer), fixed = (1 layer) - per layer,
full = fixed + 28 x per layer (embedding/head are the fixed part). Results: <out>/results.json.
Prefill and block forwards ask for the last block's logits only, as the engine does.
The folder is git-ignored; nothing is fetched.
"""
from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

SDAR_1_7B = {"hidden_size": 2048, "num_attention_heads": 16, "num_key_value_heads": 8, "head_dim": 128,
             "intermediate_size": 6144, "vocab_size": 151936, "tie_word_embeddings": True, "block_size": 4,
             "rope_theta": 1000000, "rms_norm_eps": 1e-6, "max_position_embeddings": 32768}
FULL_LAYERS = 28
SPECIALS = {"<|endoftext|>": 151643, "<|im_start|>": 151644, "<|im_end|>": 151645, "<|fim_prefix|>": 151659,
            "<|fim_middle|>": 151660, "<|fim_suffix|>": 151661, "<|MASK|>": 151669}
PREFILL, PAST, BLOCK = 512, 512, 4


def build_slice(out: Path, layers: int, seed: int = 0) -> Path:
    import torch
    from safetensors.torch import save_file
    from tokenizers import Tokenizer, models, pre_tokenizers
    from .arch.core import BidirectionalLM
    from .arch.layouts import core_param_to_checkpoint, model_spec
    out.mkdir(parents=True, exist_ok=True)
    vocab = {f"t{i}": i for i in range(151643)}
    vocab.update(SPECIALS)
    tok = Tokenizer(models.WordLevel(vocab, unk_token="t0"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    tok.save(str(out / "tokenizer.json"))
    cfg = {"architectures": ["SDARForCausalLM"], "model_type": "sdar", "attention_bias": False, "attention_dropout": 0.0,
           "bos_token_id": 151643, "eos_token_id": 151643, "mask_token_id": 151669, "hidden_act": "silu",
           "num_hidden_layers": layers, "rope_scaling": None, "sliding_window": None, "use_sliding_window": False,
           "torch_dtype": "bfloat16", **SDAR_1_7B}
    (out / "config.json").write_text(json.dumps(cfg, indent=2))
    spec = model_spec(cfg, out / "config.json")
    torch.manual_seed(seed)
    model = BidirectionalLM(spec.core)
    with torch.no_grad():
        for n, p in model.named_parameters():
            p.copy_(1.0 + 0.1 * torch.randn_like(p)) if n.endswith("norm.weight") else p.normal_(0.0, 0.02)
    tensors = {core_param_to_checkpoint(spec.layout, n): t.to(torch.bfloat16).contiguous()
               for n, t in model.state_dict().items()}
    del model
    save_file(tensors, str(out / "model.safetensors"), metadata={"format": "pt"})
    return out


def measure(bundle: Path, threads: int, repeats: int = 5) -> dict:
    """Run in a fresh process (the RSS is this bundle's alone)."""
    import numpy as np
    import onnxruntime as ort
    b = json.loads((bundle / "bundle.json").read_text())
    c = b["model"]["cache"]
    so = ort.SessionOptions()
    so.intra_op_num_threads = threads
    so.inter_op_num_threads = 1
    t0 = time.perf_counter()
    sess = ort.InferenceSession(str(bundle / "model.onnx"), so, providers=["CPUExecutionProvider"])
    load_s = time.perf_counter() - t0

    def feed(q: int, p: int) -> dict:
        # logits for the last block's rows only, as the engine asks (a 151,936-wide head on 512 rows would dominate)
        rng = np.random.default_rng(0)
        f = {"input_ids": rng.integers(0, 151000, (1, q)).astype(np.int64),
             "position_ids": (np.arange(q) + p)[None].astype(np.int64),
             "want": np.array([q - BLOCK, q], dtype=np.int64)}
        for i in range(c["layers"]):
            for kind in ("key", "value"):
                f[f"past_{kind}.{i}"] = rng.standard_normal((1, c["kv_heads"], p, c["head_dim"])).astype(np.float32)
        return f

    def timed(f: dict) -> float:
        sess.run(None, f)   # warm-up
        ts = []
        for _ in range(repeats):
            t = time.perf_counter()
            sess.run(None, f)
            ts.append(time.perf_counter() - t)
        return statistics.median(ts) * 1000

    prefill_ms = timed(feed(PREFILL, 0))
    block_ms = timed(feed(BLOCK, PAST))
    # /proc VmHWM / VmRSS: getrusage's ru_maxrss would carry the converting parent's peak across fork + exec
    status = dict(line.split(":", 1) for line in Path("/proc/self/status").read_text().splitlines() if ":" in line)
    kib = lambda k: int(status[k].split()[0]) * 1024   # noqa: E731
    return {"threads": threads, "load_s": round(load_s, 2), "prefill_ms": round(prefill_ms, 1),
            "block_ms": round(block_ms, 1), "peak_rss_bytes": kib("VmHWM"), "rss_bytes": kib("VmRSS")}


def project(one: float, two: float) -> float:
    per = two - one
    return (one - per) + FULL_LAYERS * per


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default=str(Path(__file__).resolve().parents[2] / "models" / "block-slices"))
    ap.add_argument("--dtypes", nargs="+", default=["fp32", "int8"])
    ap.add_argument("--threads", nargs="+", type=int, default=[1, 2])
    ap.add_argument("--measure", help=argparse.SUPPRESS)
    ap.add_argument("--measure-threads", type=int, help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.measure:
        print(json.dumps(measure(Path(a.measure), a.measure_threads)))
        return
    import torch
    torch.set_num_threads(2)
    from .convert import convert
    out = Path(a.out)
    rows = []
    for layers in (1, 2):
        ckpt = out / f"sdar-1.7b-{layers}l-ckpt"
        if not (ckpt / "model.safetensors").exists():
            build_slice(ckpt, layers)
        for dtype in a.dtypes:
            bdir = out / f"sdar-1.7b-{layers}l-{dtype}"
            if not (bdir / "bundle.json").exists():
                t = time.perf_counter()
                convert(ckpt, bdir, adapter=None, dtype=dtype, log=lambda s: print(s, file=sys.stderr))
                print(f"converted {bdir.name} in {time.perf_counter() - t:.0f} s", file=sys.stderr)
            # the graph and its external weights (the exporter may write one file per large tensor)
            size = sum(f.stat().st_size for f in bdir.iterdir() if f.name not in ("bundle.json", "tokenizer.json"))
            for th in a.threads:
                r = subprocess.run([sys.executable, "-m", "edit_dllm.block_slice", "--measure", str(bdir),
                                    "--measure-threads", str(th)], capture_output=True, text=True, check=True,
                                   cwd=Path(__file__).resolve().parents[1])
                m = json.loads(r.stdout)
                rows.append({"layers": layers, "dtype": dtype, "model_bytes": size, **m})
                print(json.dumps(rows[-1]), file=sys.stderr)
    proj = []
    for dtype in a.dtypes:
        for th in a.threads:
            r1 = next(r for r in rows if r["layers"] == 1 and r["dtype"] == dtype and r["threads"] == th)
            r2 = next(r for r in rows if r["layers"] == 2 and r["dtype"] == dtype and r["threads"] == th)
            proj.append({"dtype": dtype, "threads": th, "layers": FULL_LAYERS,
                         "model_bytes": round(project(r1["model_bytes"], r2["model_bytes"])),
                         "peak_rss_bytes": round(project(r1["peak_rss_bytes"], r2["peak_rss_bytes"])),
                         "rss_bytes": round(project(r1["rss_bytes"], r2["rss_bytes"])),
                         "prefill_ms": round(project(r1["prefill_ms"], r2["prefill_ms"]), 1),
                         "block_ms": round(project(r1["block_ms"], r2["block_ms"]), 1)})
    res = {"geometry": SDAR_1_7B, "prefill_tokens": PREFILL, "block": {"tokens": BLOCK, "past": PAST},
           "measured": rows, "projected_sdar_1.7b": proj}
    (out / "results.json").write_text(json.dumps(res, indent=2) + "\n")
    print(json.dumps(proj, indent=1))


if __name__ == "__main__":
    main()
