"""fp32 vs fp16 vs int8 bundles of one converted LLaDA-layout model: size, CPU speed, accuracy.

    python -m edit_dllm.arch.dtype_bench [--out results/convert-dtypes.json] [--d-model 256 --layers 4]

Random-init weights (no real checkpoint on this machine), so accuracy is measured against the fp32
bundle, not a task: max |logit| difference relative to the fp32 logit range, top-1 agreement on the
wanted rows, and the greedy generations (the reference sampler, `full` rule) token-identical or not.
Speed: ORT CPU, 1 thread, median ms of one forward of the seam's shape (prompt 96 + block 32 query
tokens, 32 wanted rows, no past). Numbers are machine-specific; the ratios are the point.
"""
from __future__ import annotations

import argparse
import json
import shutil
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from ..convert import OrtCacheGraph, convert
from .tiny import build_tiny_adapter, build_tiny_checkpoint


def _full_forward(run: OrtCacheGraph, kv_heads: int, head_dim: int, layers: int):
    def fwd(ids: torch.Tensor):
        b, s = ids.shape
        empty = [np.zeros((b, kv_heads, 0, head_dim), np.float32)] * (2 * layers)
        out = run(ids.numpy(), np.tile(np.arange(s), (b, 1)), (0, s), empty)
        acts = {k[len("act."):]: torch.from_numpy(v.astype(np.float32)) for k, v in out.items() if k.startswith("act.")}
        return torch.from_numpy(out["logits"].astype(np.float32)), acts
    return fwd


def bench(d_model: int = 256, layers: int = 4, repeats: int = 20) -> dict:
    from ..sampler import Bundle
    tmp = Path(tempfile.mkdtemp(prefix="edit-dtype-bench-"))
    try:
        heads = max(1, d_model // 32)
        ckpt = build_tiny_checkpoint("llada", tmp / "ckpt", dims={"d_model": d_model, "n_layers": layers, "n_heads": heads,
                                                                  "n_kv_heads": heads, "mlp_hidden_size": int(d_model * 2.75)})
        lora = build_tiny_adapter(ckpt, tmp / "lora")
        res: dict = {"model": {"d_model": d_model, "layers": layers, "heads": heads}, "dtypes": {}}
        rng = np.random.default_rng(0)
        seqs = [rng.integers(10, 300, (1, 128)) for _ in range(repeats)]
        base_logits, base_gen = None, None
        prompts = ["def add(a, b):", "Write a haiku about tests.", "import torch"]
        for dt in ("fp32", "fp16", "int8"):
            out = tmp / dt
            b = convert(ckpt, out, adapter=lora, dtype=dt, probes="all-qkv", log=lambda s: None,
                        generation={"gen_length": 32, "block_length": 32, "steps": 32, "schedule": "uniform"})
            c = b["model"]["cache"]
            res["model"]["params"] = b["model"]["params"]
            run = OrtCacheGraph(out / "model.onnx")
            empty = [np.zeros((1, c["kv_heads"], 0, c["head_dim"]), np.float32)] * (2 * c["layers"])
            logits, times = [], []
            for s in seqs:
                t0 = time.perf_counter()
                o = run(s, np.arange(128)[None], (96, 128), empty)
                times.append((time.perf_counter() - t0) * 1000)
                logits.append(o["logits"].astype(np.float32))
            files = [p for p in out.iterdir() if p.name.startswith("model.onnx")]
            entry = {"bytes": sum(p.stat().st_size for p in files), "forward_ms_median": statistics.median(times)}
            bundle = Bundle.load(out)
            traces = bundle.run(_full_forward(run, c["kv_heads"], c["head_dim"], c["layers"]), "chat", prompts, "full",
                                batch_size=1, provider=f"onnxruntime-{dt}")
            gen = [t["outputIds"] for t in traces]
            if base_logits is None:
                base_logits, base_gen = logits, gen
            else:
                span = max(float(np.abs(x).max()) for x in base_logits)
                entry["max_abs_logit_diff_rel"] = max(float(np.abs(a - b).max()) for a, b in zip(logits, base_logits)) / span
                entry["top1_agreement"] = float(np.mean([(a.argmax(-1) == b.argmax(-1)).mean() for a, b in zip(logits, base_logits)]))
                entry["greedy_tokens_identical"] = float(np.mean([g == h for g, h in zip(gen, base_gen)]))
                entry["greedy_token_agreement"] = float(np.mean([np.mean(np.array(g) == np.array(h)) for g, h in zip(gen, base_gen)]))
            res["dtypes"][dt] = entry
        fp32 = res["dtypes"]["fp32"]
        for dt in ("fp16", "int8"):
            e = res["dtypes"][dt]
            e["size_vs_fp32"] = e["bytes"] / fp32["bytes"]
            e["speed_vs_fp32"] = fp32["forward_ms_median"] / e["forward_ms_median"]
        return res
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default="results/convert-dtypes.json")
    ap.add_argument("--d-model", type=int, default=256)
    ap.add_argument("--layers", type=int, default=4)
    ap.add_argument("--repeats", type=int, default=20)
    a = ap.parse_args()
    torch.set_num_threads(1)
    r = bench(a.d_model, a.layers, a.repeats)
    Path(a.out).parent.mkdir(parents=True, exist_ok=True)
    Path(a.out).write_text(json.dumps(r, indent=2) + "\n")
    print(json.dumps(r, indent=2))


if __name__ == "__main__":
    main()
