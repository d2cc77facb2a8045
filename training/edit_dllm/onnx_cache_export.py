"""The shared ONNX exporter for the cache graph (bundle format edit-bundle/2 with model.cache != null).

The PyTorch side: any module with

    forward(input_ids: LongTensor[B, q], position_ids: LongTensor[B, q],
            past: list[tuple[k, v]] (one per layer, each [B, kv_heads, p, head_dim], p may be 0),
            want: LongTensor[2])
      -> (logits [B, w1 - w0, V],
          probes: dict[module_name, Tensor[B, w1 - w0, d_out]],
          presents: list[tuple[k, v]] (one per layer, each [B, kv_heads, q, head_dim]))

- `input_ids`: the tokens computed in this forward (the "query" positions).
- `position_ids`: each query token's absolute position (learned tables index with it; rotary models
  rotate q/k by it).
- `past`: K/V of the cached positions, rotary already applied to K. Attention is bidirectional with no
  mask, so their order does not matter (the dual cache passes prefix and suffix K/V concatenated).
- `want` = [w0, w1): the query rows (0-based within the query) whose logits and probes are returned.
  With a logit shift (Dream family) the module itself takes row j's logits from hidden j - 1, so the
  caller puts the position before the first wanted one into the query.
- `probes`: LoRA-B outputs (Eq 5's f_s, before the LoRA scaling), NOT shifted.
- `presents`: K/V of the query positions (rotary applied), which the engine stores.

The ONNX graph (one graph, past optional: weights stored once, one code path in the engine):
inputs `input_ids`, `position_ids` int64 [batch, q]; `past_key.{i}`, `past_value.{i}` [batch, kv_heads,
past, head_dim] for each layer i; `want` int64 [2]. Outputs `logits` [batch, want, vocab],
`act.<module>` [batch, want, d_out], `present_key.{i}`, `present_value.{i}` [batch, kv_heads, q, head_dim].

Public API:

    export_cache_onnx(module, out_path, *, n_layers, kv_heads, head_dim, probe_names, vocab_size,
                      opset=18, external_data=False, dtype=torch.float32) -> list[str]   # output names
    check_cache_parity(module, onnx_path, *, n_layers, kv_heads, head_dim, probe_names, vocab_size,
                       cases=...) -> dict[str, float]                                  # max abs diffs
    CacheOnnxForward(onnx_path)(ids, position_ids, past, want) -> (logits, {module: act}, presents)
"""
from __future__ import annotations

import warnings
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
import torch
import torch.nn as nn

Past = list[tuple[torch.Tensor, torch.Tensor]]
CacheForward = Callable[[torch.Tensor, torch.Tensor, Past, torch.Tensor],
                        tuple[torch.Tensor, dict[str, torch.Tensor], Past]]


def cache_input_names(n_layers: int) -> list[str]:
    return (["input_ids", "position_ids"]
            + [f"past_{kind}.{i}" for i in range(n_layers) for kind in ("key", "value")] + ["want"])


def cache_output_names(probe_names: Sequence[str], n_layers: int) -> list[str]:
    return (["logits"] + [f"act.{n}" for n in probe_names]
            + [f"present_{kind}.{i}" for i in range(n_layers) for kind in ("key", "value")])


class _Flat(nn.Module):
    """Flattens the signature for the exporter: (ids, pos, *past_kv, want) -> (logits, *acts, *presents)."""

    def __init__(self, module: nn.Module, probe_names: Sequence[str], n_layers: int) -> None:
        super().__init__()
        self.module = module
        self.probe_names = list(probe_names)
        self.n_layers = n_layers

    def forward(self, input_ids, position_ids, *rest):
        flat, want = rest[:-1], rest[-1]
        past = [(flat[2 * i], flat[2 * i + 1]) for i in range(self.n_layers)]
        logits, probes, presents = self.module(input_ids, position_ids, past, want)
        missing = [n for n in self.probe_names if n not in probes]
        if missing:
            raise KeyError(f"the module returned no probe output for {missing}; it returned {sorted(probes)}")
        out = [logits] + [probes[n] for n in self.probe_names]
        for k, v in presents:
            out += [k, v]
        return tuple(out)


def _example(n_layers: int, kv_heads: int, head_dim: int, vocab_size: int, batch: int, q: int, p: int,
             dtype: torch.dtype, want: tuple[int, int], seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    ids = torch.randint(0, vocab_size, (batch, q), generator=g)
    pos = (torch.arange(q) + p)[None].expand(batch, q).contiguous()
    past = [(torch.randn(batch, kv_heads, p, head_dim, generator=g).to(dtype),
             torch.randn(batch, kv_heads, p, head_dim, generator=g).to(dtype)) for _ in range(n_layers)]
    return ids, pos, past, torch.tensor(want, dtype=torch.int64)


def export_cache_onnx(module: nn.Module, out_path: str | Path, *, n_layers: int, kv_heads: int, head_dim: int,
                      probe_names: Sequence[str], vocab_size: int, opset: int = 18, external_data: bool = False,
                      dtype: torch.dtype = torch.float32) -> list[str]:
    """Export `module` (the signature above) as the cache graph; returns the output names.

    Uses the TorchScript tracer (dynamo=False): `want` selects rows with a data-dependent count, which the
    tracer records as ONNX ops (Range/Less/NonZero/Gather) while torch.export needs unbacked-size
    annotations in every model. The example has a non-empty past; the graph also runs with past length 0
    (ORT concatenates empty tensors), which check_cache_parity verifies."""
    module.eval()
    flat = _Flat(module, probe_names, n_layers).eval()
    ids, pos, past, want = _example(n_layers, kv_heads, head_dim, vocab_size, 2, 9, 5, dtype, (2, 7))
    args = (ids, pos, *[t for kv in past for t in kv], want)
    inputs = cache_input_names(n_layers)
    outputs = cache_output_names(probe_names, n_layers)
    axes: dict[str, dict[int, str]] = {"input_ids": {0: "batch", 1: "q"}, "position_ids": {0: "batch", 1: "q"},
                                       "logits": {0: "batch", 1: "want"}}
    for n in inputs:
        if n.startswith("past_"):
            axes[n] = {0: "batch", 2: "past"}
    for n in outputs:
        if n.startswith("act."):
            axes[n] = {0: "batch", 1: "want"}
        elif n.startswith("present_"):
            axes[n] = {0: "batch", 2: "q"}
    out_path = Path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")
        torch.onnx.export(flat, args, str(out_path), input_names=inputs, output_names=outputs,
                          dynamic_axes=axes, opset_version=opset, dynamo=False)
    if external_data:
        import onnx
        from onnx.external_data_helper import load_external_data_for_model
        m = onnx.load(str(out_path), load_external_data=False)
        # Above 2 GiB the exporter already wrote one file per tensor next to the graph: gather them into
        # one .data file and delete the per-tensor files (a second copy of every weight otherwise).
        strays = {e.value for t in m.graph.initializer for e in t.external_data if e.key == "location"}
        load_external_data_for_model(m, str(out_path.parent))
        onnx.save_model(m, str(out_path), save_as_external_data=True, all_tensors_to_one_file=True,
                        location=out_path.name + ".data")
        for f in strays - {out_path.name + ".data"}:
            (out_path.parent / f).unlink(missing_ok=True)
    return outputs


class CacheOnnxForward:
    """Runs a cache graph: (ids, position_ids, past, want) -> (logits, {module: act}, presents), numpy in/out."""

    def __init__(self, onnx_path: str | Path, threads: int = 1) -> None:
        import onnxruntime as ort
        so = ort.SessionOptions()
        so.intra_op_num_threads = threads
        so.inter_op_num_threads = 1
        so.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self.session = ort.InferenceSession(str(onnx_path), so, providers=["CPUExecutionProvider"])
        self.outputs = [o.name for o in self.session.get_outputs()]
        self.n_layers = sum(1 for i in self.session.get_inputs() if i.name.startswith("past_key."))

    def __call__(self, ids, position_ids, past, want):
        feed = {"input_ids": np.asarray(ids, dtype=np.int64), "position_ids": np.asarray(position_ids, dtype=np.int64),
                "want": np.asarray(want, dtype=np.int64)}
        for i, (k, v) in enumerate(past):
            feed[f"past_key.{i}"], feed[f"past_value.{i}"] = np.asarray(k), np.asarray(v)
        out = dict(zip(self.outputs, self.session.run(None, feed)))
        acts = {k[len("act."):]: v for k, v in out.items() if k.startswith("act.")}
        presents = [(out[f"present_key.{i}"], out[f"present_value.{i}"]) for i in range(self.n_layers)]
        return out["logits"], acts, presents


def check_cache_parity(module: nn.Module, onnx_path: str | Path, *, n_layers: int, kv_heads: int, head_dim: int,
                       probe_names: Sequence[str], vocab_size: int,
                       cases: Sequence[tuple[int, int, int, tuple[int, int]]] = ((1, 7, 0, (0, 7)), (1, 6, 11, (2, 5)),
                                                                                 (3, 12, 4, (0, 12))),
                       seed: int = 0) -> dict[str, float]:
    """Max abs difference ONNX Runtime vs PyTorch per output over (batch, q, past, want) cases, past length 0
    included. Callers assert <= 1e-4."""
    flat = _Flat(module.eval(), probe_names, n_layers).eval()
    ort_fwd = CacheOnnxForward(onnx_path)
    names = cache_output_names(probe_names, n_layers)
    worst: dict[str, float] = {}
    for i, (b, q, p, want) in enumerate(cases):
        ids, pos, past, w = _example(n_layers, kv_heads, head_dim, vocab_size, b, q, p, torch.float32, want, seed + i)
        with torch.no_grad():
            ref = flat(ids, pos, *[t for kv in past for t in kv], w)
        feed = {"input_ids": ids.numpy(), "position_ids": pos.numpy(), "want": w.numpy()}
        for j, (k, v) in enumerate(past):
            feed[f"past_key.{j}"], feed[f"past_value.{j}"] = k.numpy(), v.numpy()
        res = ort_fwd.session.run(names, feed)
        for name, r, o in zip(names, ref, res):
            if tuple(r.shape) != tuple(o.shape):
                raise AssertionError(f"{name}: ONNX shape {tuple(o.shape)} != PyTorch {tuple(r.shape)}")
            d = float(np.abs(r.detach().numpy() - o).max()) if o.size else 0.0
            worst[name] = max(worst.get(name, 0.0), d)
    return worst
