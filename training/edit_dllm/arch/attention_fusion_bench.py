"""Fused attention in the cache graph: what ONNX Runtime's fusions do to it, and whether a directly emitted
com.microsoft MultiHeadAttention is faster (docs/bench.md "Fused attention"; issue 19 item 4).

    python -m edit_dllm.arch.attention_fusion_bench [--repeats 30] [--out ../bench/attention-fusion.json]

1. Census: for the tiny LLaDA / Dream / LLaDA-fp16 / LLaDA-int4 fixtures and a random LLaMA-shaped graph, the contrib ops
   after ORT's own optimisations (ORT_ENABLE_ALL, dumped with optimized_model_filepath) and after
   `onnxruntime.transformers.optimizer.optimize_model` for every decoder-ish model_type (opt_level 0 = the
   Python fusions alone, 99 = those plus ORT's).
2. Side by side in one run (1 thread, fp32): the random LLaMA-shaped model exported unfused (the shipped
   graph) and with FusedMHA (core.py; --fused-attention), for an MHA (LLaDA-like, 16 KV heads) and a GQA
   (Dream-like, 4 KV heads) variant: parity of every output against PyTorch and against each other, then
   per-forward time of a 32-token block against 1,024 cached positions (the default cache mode's forward)
   and of the first forward (1,056 tokens, no past); medians over interleaved repeats. The optimizer's one
   fusion that fires (SkipSimplifiedLayerNormalization, model_type bert, opt_level 0) is timed with them. Also the attention
   alone (16 heads x 64, queries 32 or 1,056 against 1,056 keys): the kernels without the layers around them.
"""
from __future__ import annotations

import argparse
import collections
import json
import logging
import platform
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from ..onnx_cache_export import CacheOnnxForward, check_cache_parity, export_cache_onnx
from .core import BidirectionalLM, CoreConfig, attend

ROOT = Path(__file__).resolve().parents[3]
FIXTURES = ("tiny-llada", "tiny-dream", "tiny-llada-fp16", "tiny-llada-int4")
MODEL_TYPES = ("bert", "gpt2", "gpt_neox", "qwen3")
ATTENTION_OPS = ("Attention", "MultiHeadAttention", "GroupQueryAttention", "RotaryEmbedding",
                 "PackedMultiHeadAttention", "DecoderMaskedMultiHeadAttention")


def op_census(model) -> dict:
    c = collections.Counter(((n.domain or "ai.onnx") + ":" + n.op_type) for n in model.graph.node)
    return {"nodes": sum(c.values()),
            "contrib": {k.split(":", 1)[1]: v for k, v in sorted(c.items()) if k.startswith("com.microsoft")},
            "MatMul": c.get("ai.onnx:MatMul", 0), "Softmax": c.get("ai.onnx:Softmax", 0),
            "SimplifiedLayerNormalization": c.get("ai.onnx:SimplifiedLayerNormalization", 0),
            "attention_fused": any(op in ATTENTION_OPS for op in
                                   (k.split(":", 1)[1] for k in c if k.startswith("com.microsoft")))}


def ort_optimized(path: Path, tmp: Path):
    import onnx
    import onnxruntime as ort
    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    so.optimized_model_filepath = str(tmp / f"{path.parent.name}-{path.stem}-ort.onnx")
    ort.InferenceSession(str(path), so, providers=["CPUExecutionProvider"])
    return onnx.load(so.optimized_model_filepath)


def census(path: Path, tmp: Path) -> dict:
    import onnx
    from onnxruntime.transformers.optimizer import optimize_model
    row = {"unoptimised": op_census(onnx.load(str(path))), "ORT_ENABLE_ALL": op_census(ort_optimized(path, tmp))}
    for mt in MODEL_TYPES:
        for lvl in (0, 99):
            try:  # num_heads/hidden_size 0: the optimizer reads them from the graph where its patterns match
                m = optimize_model(str(path), model_type=mt, num_heads=0, hidden_size=0, opt_level=lvl, use_gpu=False)
                row[f"optimizer {mt} opt_level={lvl}"] = op_census(m.model)
            except Exception as e:  # noqa: BLE001 - recorded, not fatal: a model type that refuses the graph
                row[f"optimizer {mt} opt_level={lvl}"] = {"error": f"{type(e).__name__}: {e}"[:200]}
    return row


def llama_shaped(kv_heads: int, vocab: int, seed: int = 0) -> BidirectionalLM:
    torch.manual_seed(seed)
    c = CoreConfig(vocab_size=vocab, d_model=1024, n_layers=2, n_heads=16, n_kv_heads=kv_heads, head_dim=64,
                   d_ff=2816, rope_theta=500000.0, rms_eps=1e-5)
    return BidirectionalLM(c).eval()


def set_fused(model: BidirectionalLM, on: bool) -> None:
    for layer in model.layers:
        layer.fused_mha = on


def export(model: BidirectionalLM, path: Path, fused: bool) -> None:
    c = model.config
    set_fused(model, fused)
    export_cache_onnx(model, path, n_layers=c.n_layers, kv_heads=c.n_kv_heads, head_dim=c.head_dim, probe_names=[],
                      vocab_size=c.vocab_size)
    set_fused(model, False)


def feeds(c: CoreConfig, q: int, p: int, seed: int = 1):
    g = np.random.default_rng(seed)
    ids = g.integers(0, c.vocab_size, (1, q), dtype=np.int64)
    pos = (np.arange(q, dtype=np.int64) + p)[None]
    past = [(g.standard_normal((1, c.n_kv_heads, p, c.head_dim), dtype=np.float32),
             g.standard_normal((1, c.n_kv_heads, p, c.head_dim), dtype=np.float32)) for _ in range(c.n_layers)]
    return ids, pos, past, np.array([0, q], dtype=np.int64)


def side_by_side(kv_heads: int, vocab: int, repeats: int, tmp: Path) -> dict:
    model = llama_shaped(kv_heads, vocab)
    c = model.config
    paths = {"unfused": tmp / f"kv{kv_heads}-unfused.onnx", "fused_mha": tmp / f"kv{kv_heads}-fused.onnx"}
    row: dict = {"config": c.to_dict(), "params": sum(p.numel() for p in model.parameters())}
    import onnx
    for name, p in paths.items():
        export(model, p, name == "fused_mha")
        row[f"{name}_census"] = {"exported": op_census(onnx.load(str(p))), "ORT_ENABLE_ALL": op_census(ort_optimized(p, tmp))}
        pt = check_cache_parity(model, p, n_layers=c.n_layers, kv_heads=c.n_kv_heads, head_dim=c.head_dim,
                                probe_names=[], vocab_size=c.vocab_size)
        row[f"{name}_vs_pytorch_max_abs"] = max(pt.values())
    # The one fusion the transformers optimizer does apply (SkipSimplifiedLayerNormalization: residual Add +
    # RMSNorm), on the unfused graph, timed alongside.
    from onnxruntime.transformers.optimizer import optimize_model
    paths["optimizer_skip_sln"] = tmp / f"kv{kv_heads}-skipsln.onnx"
    optimize_model(str(paths["unfused"]), model_type="bert", num_heads=0, hidden_size=0, opt_level=0,
                   use_gpu=False).save_model_to_file(str(paths["optimizer_skip_sln"]))
    row["optimizer_skip_sln_census"] = {"exported": op_census(onnx.load(str(paths["optimizer_skip_sln"])))}
    runs = {name: CacheOnnxForward(p, threads=1) for name, p in paths.items()}
    for label, (q, p) in {"cached_q32_past1024": (32, 1024), "first_q1056_past0": (1056, 0)}.items():
        ids, pos, past, want = feeds(c, q, p)
        outs = {name: f(ids, pos, past, want) for name, f in runs.items()}
        for other in ("fused_mha", "optimizer_skip_sln"):
            row[f"{label}_{other}_vs_unfused_logits_max_abs"] = float(np.abs(outs["unfused"][0] - outs[other][0]).max())
            row[f"{label}_{other}_vs_unfused_presents_max_abs"] = max(
                float(np.abs(a - b).max()) for ka, kb in zip(outs["unfused"][2], outs[other][2]) for a, b in zip(ka, kb))
            row[f"{label}_{other}_top1_equal"] = bool((outs["unfused"][0].argmax(-1) == outs[other][0].argmax(-1)).all())
        times: dict[str, list[float]] = {n: [] for n in runs}
        n_rep = repeats if q <= 32 else max(5, repeats // 5)
        for _ in range(n_rep):  # interleaved, so load drifts hit both graphs alike
            for name, f in runs.items():
                t0 = time.perf_counter()
                f(ids, pos, past, want)
                times[name].append(time.perf_counter() - t0)
        med = {n: statistics.median(t) * 1e3 for n, t in times.items()}
        row[f"{label}_ms_median"] = {n: round(v, 3) for n, v in med.items()}
        row[f"{label}_repeats"] = n_rep
        row[f"{label}_speedup"] = {n: round(med["unfused"] / med[n], 3) for n in ("fused_mha", "optimizer_skip_sln")}
        print(label, kv_heads, row[f"{label}_ms_median"], row[f"{label}_speedup"], flush=True)
    return row


class AttentionOnly(torch.nn.Module):
    """Just the attention of one layer (core.attend): [1, N, S, hd] rotated queries, [1, N, T, hd] K/V."""

    def __init__(self, heads: int, head_dim: int, fused: bool) -> None:
        super().__init__()
        self.heads, self.head_dim, self.fused = heads, head_dim, fused

    def forward(self, qh, keys, values):
        return attend(qh, keys, values, None, batch=qh.shape[0], length=qh.shape[2], heads=self.heads,
                      head_dim=self.head_dim, fused=self.fused)


def attention_only(repeats: int, tmp: Path, heads: int = 16, head_dim: int = 64) -> dict:
    """The attention kernels alone, after ORT_ENABLE_ALL: FusedMatMul(transB, alpha)/Softmax/MatMul vs one
    MultiHeadAttention node, per call."""
    import onnxruntime as ort
    sessions = {}
    for name in ("unfused", "fused_mha"):
        p = tmp / f"attention-{name}.onnx"
        g = torch.Generator().manual_seed(0)
        ex = (torch.randn(1, heads, 5, head_dim, generator=g), torch.randn(1, heads, 9, head_dim, generator=g),
              torch.randn(1, heads, 9, head_dim, generator=g))
        torch.onnx.export(AttentionOnly(heads, head_dim, name == "fused_mha"), ex, str(p),
                          input_names=["qh", "keys", "values"], output_names=["out"], opset_version=18, dynamo=False,
                          dynamic_axes={"qh": {2: "s"}, "keys": {2: "t"}, "values": {2: "t"}, "out": {1: "s"}})
        so = ort.SessionOptions()
        so.intra_op_num_threads, so.inter_op_num_threads = 1, 1
        so.add_session_config_entry("session.intra_op.allow_spinning", "0")
        sessions[name] = ort.InferenceSession(str(p), so, providers=["CPUExecutionProvider"])
    row = {"heads": heads, "head_dim": head_dim}
    for s_len, t_len in ((32, 1056), (1056, 1056)):
        rng = np.random.default_rng(2)
        feed = {"qh": rng.standard_normal((1, heads, s_len, head_dim), dtype=np.float32),
                "keys": rng.standard_normal((1, heads, t_len, head_dim), dtype=np.float32),
                "values": rng.standard_normal((1, heads, t_len, head_dim), dtype=np.float32)}
        outs = {n: s.run(None, feed)[0] for n, s in sessions.items()}
        times: dict[str, list[float]] = {n: [] for n in sessions}
        n_rep = repeats * 5 if s_len <= 32 else repeats
        for _ in range(n_rep):
            for n, s in sessions.items():
                t0 = time.perf_counter()
                s.run(None, feed)
                times[n].append(time.perf_counter() - t0)
        med = {n: statistics.median(t) * 1e3 for n, t in times.items()}
        row[f"q{s_len}_kv{t_len}"] = {"ms_median": {n: round(v, 4) for n, v in med.items()}, "repeats": n_rep,
                                      "speedup_fused": round(med["unfused"] / med["fused_mha"], 3),
                                      "max_abs_diff": float(np.abs(outs["unfused"] - outs["fused_mha"]).max())}
        print("attention only", s_len, t_len, row[f"q{s_len}_kv{t_len}"], flush=True)
    return row


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeats", type=int, default=30)
    ap.add_argument("--vocab", type=int, default=4096, help="head width of the LLaMA-shaped graph (small, so the "
                    "layers dominate the forward)")
    ap.add_argument("--out", default=str(ROOT / "bench" / "attention-fusion.json"))
    a = ap.parse_args()
    logging.disable(logging.WARNING)
    torch.set_num_threads(1)
    import onnxruntime as ort
    res: dict = {"onnxruntime": ort.__version__, "torch": torch.__version__, "machine": platform.machine(),
                 "threads": 1, "census": {}, "side_by_side": {}}
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        for fx in FIXTURES:
            res["census"][fx] = census(ROOT / "test" / "fixtures" / fx / "model.onnx", tmp)
            print(fx, {k: v.get("contrib") for k, v in res["census"][fx].items()}, flush=True)
        model = llama_shaped(16, a.vocab)
        export(model, tmp / "llama-shaped.onnx", False)
        res["census"]["llama-shaped-1024x2"] = census(tmp / "llama-shaped.onnx", tmp)
        del model
        res["attention_only"] = attention_only(a.repeats, tmp)
        for kvh in (16, 4):
            res["side_by_side"][f"kv_heads_{kvh}"] = side_by_side(kvh, a.vocab, a.repeats, tmp)
    Path(a.out).write_text(json.dumps(res, indent=1) + "\n")
    print("wrote", a.out)


if __name__ == "__main__":
    main()
