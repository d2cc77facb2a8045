"""Convert a local dLLM checkpoint (LLaDA, Dream family, HF LLaMA adapted to masked diffusion, SDAR,
Fast-dLLM v2) + a LoRA
adapter into an `edit-bundle/2` bundle the daemon runs (docs/bundle-contract.md, docs/bring-your-own-dllm.md).

    python -m edit_dllm.convert --from DIR --adapter LORA_DIR [--metadata FILE | --u-from-adapter]
        [--dtype fp32|fp16|int8|int4] [--probes default|all-qkv] [--max-len N] --out BUNDLE

Reads only local files: config.json, model.safetensors or model.safetensors.index.json + shards,
tokenizer.json, tokenizer_config.json (chat template, special tokens), generation_config.json. The model
is the project's own module (edit_dllm.arch); no remote code runs and nothing is fetched.

The graph is the cache graph (docs/kv-cache.md, edit_dllm/onnx_cache_export.py): inputs input_ids, position_ids,
past_key.{i}/past_value.{i}, want; outputs logits (wanted rows only), act.<probe>, present_key/value.{i}.
fp32 bundles are checked against the PyTorch module (max abs diff <= 1e-4) before bundle.json is written;
int4 bundles by top-1 agreement with the fp32 module on real text (top1_agreement; a logit tolerance
means nothing at 4 bits).
"""
from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np
import torch

from .arch.checkpoint import attach_adapter, load_checkpoint, read_config, read_json
from .arch.core import BidirectionalLM
from .arch.errors import ConvertError
from .arch.layouts import ModelSpec

BUNDLE_FORMAT = "edit-bundle/2"
DTYPES = ("fp32", "fp16", "int8", "int4")
# Protobuf's hard limit is 2 GiB; above this the weights go to model.onnx.data next to the graph.
EXTERNAL_DATA_BYTES = 1_800_000_000
DEFAULT_GENERATION = {"gen_length": 128, "block_length": 32, "steps": 128, "schedule": "uniform"}


def block_diffusion_defaults(spec: ModelSpec) -> tuple[dict, dict]:
    """(generation, no-probe stop rule) for block-causal checkpoints, as their official generate functions:
    SDAR generate.py: block_length = the config's block_size, denoising_steps = block_length, remasking
    'low_confidence_dynamic' with confidence_threshold 0.85 (= the uniform schedule + the `confidence` rule).
    Fast-dLLM v2 (run_chatbot.py): block 32 in sub-blocks of 8, threshold 0.9, at least the argmax each
    step (= one scheduled commit per step + `confidence`)."""
    bs = spec.core.block_size
    gen = {"gen_length": 4 * max(bs, 32), "block_length": bs, "steps": 4 * max(bs, 32), "schedule": "uniform"}
    if spec.architecture == "fast-dllm-v2":
        gen["sub_block_length"] = max(1, bs // 4)
        return gen, {"rule": "confidence", "params": {"threshold": 0.9}}
    return gen, {"rule": "confidence", "params": {"threshold": 0.85}}
DEFAULT_TASK = {
    "template": "{prompt}",
    # Placeholders until the user calibrates on their own validation set (docs/bring-your-own-dllm.md).
    "stop": {"rule": "edit", "params": {"tau": 1.0, "deltaFirst": 0.1, "omegaFirst": 4, "deltaLater": 0.1,
                                         "omegaLater": 4, "polishSteps": 0}},
    "certificates": {"alphaHat": 0.9, "q": 0.0, "beta": 0.1},
}
# Without an adapter: the baseline rule (no probes needed); --stop confidence / jot also run.
NO_PROBE_TASK = {"template": "{prompt}", "stop": {"rule": "full", "params": {}}}
INFILL_TEMPLATE = "{prefix}{gen}{suffix}"
# Block-causal models cannot read a suffix placed after the masks (later blocks are invisible), so infill
# puts it in the prompt with the Qwen FIM tokens their tokenizers carry (Qwen2.5 / Qwen3 vocabularies).
FIM_TEMPLATE = "<|fim_prefix|>{prefix}<|fim_suffix|>{suffix}<|fim_middle|>{gen}"


def block_causal_infill(tok_file: Path) -> dict | None:
    from tokenizers import Tokenizer
    tok = Tokenizer.from_file(str(tok_file))
    if all(tok.token_to_id(t) is not None for t in ("<|fim_prefix|>", "<|fim_suffix|>", "<|fim_middle|>")):
        return {"template": FIM_TEMPLATE}
    return None


# --------------------------------------------------------------------------- tokenizer and ids

def tokenizer_size(tok_file: Path) -> int:
    from tokenizers import Tokenizer
    try:
        tok = Tokenizer.from_file(str(tok_file))
    except Exception as e:  # the tokenizers library raises its own exception types
        raise ConvertError(tok_file, f"not a Hugging Face tokenizers JSON ({e})") from None
    return max(tok.get_vocab(with_added_tokens=True).values()) + 1


def chat_template(ckpt: Path) -> str | None:
    """tokenizer_config.json's chat_template (a string, or the 'default' of a named list), or chat_template.jinja."""
    tc = ckpt / "tokenizer_config.json"
    if tc.exists():
        t = read_json(tc).get("chat_template")
        if isinstance(t, list):
            named = {e.get("name"): e.get("template") for e in t if isinstance(e, dict)}
            t = named.get("default") or next(iter(named.values()), None)
        if isinstance(t, str) and t:
            return t
    jinja = ckpt / "chat_template.jinja"
    return jinja.read_text(encoding="utf-8") if jinja.exists() else None


# Mask tokens of released block-diffusion tokenizers whose config.json has no mask id (Fast-dLLM v2's
# generate() defaults to 151665 = "|<MASK>|"; SDAR's "<|MASK|>" is also config mask_token_id).
MASK_TOKEN_NAMES = ("|<MASK>|", "<|MASK|>", "<|mask|>", "<|mdm_mask|>")


def mask_from_tokenizer(tok_file: Path) -> int | None:
    from tokenizers import Tokenizer
    tok = Tokenizer.from_file(str(tok_file))
    for name in MASK_TOKEN_NAMES:
        i = tok.token_to_id(name)
        if i is not None:
            return int(i)
    return None


def resolve_ids(spec: ModelSpec, ckpt: Path, vocab: int, overrides: Mapping[str, int | None]) -> dict[str, int | None]:
    ids = dict(spec.ids)
    if ids.get("mask") is None and spec.core.attention == "block-causal" and (ckpt / "tokenizer.json").exists():
        ids["mask"] = mask_from_tokenizer(ckpt / "tokenizer.json")
    gen_file = ckpt / "generation_config.json"
    if gen_file.exists():
        g = read_json(gen_file)
        for k in ("eos", "pad", "bos", "mask"):
            v = g.get(f"{k}_token_id")
            if ids.get(k) is None and v is not None:
                ids[k] = int(v[0] if isinstance(v, list) else v)
    if spec.architecture == "sdar" and gen_file.exists():
        # SDAR's generate.py stops on generation_config.json's eos list ([<|im_end|>, <|endoftext|>] in the
        # chat models); the engine has one eos: the first, the chat turn's end (config.json has <|endoftext|>).
        v = read_json(gen_file).get("eos_token_id")
        if v is not None:
            ids["eos"] = int(v[0] if isinstance(v, list) else v)
    ids.update({k: v for k, v in overrides.items() if v is not None})
    if ids.get("pad") is None:
        ids["pad"] = ids.get("eos")
    for k in ("mask", "eos", "pad"):
        if ids.get(k) is None:
            raise ConvertError(ckpt / "config.json", f"no {k}_token_id (in config.json or generation_config.json); "
                                                     f"pass --{k}-id")
    for k, v in ids.items():
        if v is not None and not 0 <= v < vocab:
            raise ConvertError(ckpt / "config.json", f"{k} id {v} is outside the embedding rows [0, {vocab})")
    ids.setdefault("unk", None)
    return {"mask": ids["mask"], "eos": ids["eos"], "pad": ids["pad"], "unk": ids.get("unk"), "bos": ids.get("bos")}


# --------------------------------------------------------------------------- EDIT metadata

def metadata_from_adapter(adapter_dir: Path, probes: Sequence[str], default_probe: str, top_k: int = 4
                          ) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    """u and the subspace from the adapter's final B matrices (adapter_metadata.u_from_adapter: no
    optimizer history). grad_rms is unknown without history and written as [0, 0]."""
    from .adapter_metadata import lora_b_from, u_from_adapter
    src = adapter_dir / "adapter_model.safetensors"
    est = u_from_adapter(src, top_k)
    ranks = {m: int(B.shape[1]) for m, B in lora_b_from(src).items()}
    tensors: dict[str, torch.Tensor] = {}
    mods = [m for m in probes if m in est]
    for m in mods:
        tensors[f"{m}.u"] = est[m]["u"].float().contiguous()
        tensors[f"{m}.subspace"] = est[m]["subspace"].float().contiguous()
        tensors[f"{m}.grad_rms"] = torch.zeros(2)
    d_outs = sorted({int(tensors[f"{m}.u"].shape[0]) for m in mods})
    rank = sorted({ranks[m] for m in mods})
    k = min(top_k, *rank)
    header = {"format": "edit-metadata/1", "modules": json.dumps(mods),
              "d_out": str(d_outs[0]) if len(d_outs) == 1 else json.dumps(d_outs),
              "rank": str(rank[0]) if len(rank) == 1 else json.dumps(rank), "k": str(k), "K": "0",
              "betas": json.dumps([0.9, 0.999]), "eps": "1e-08", "eps_placement": "inside-sqrt",
              "bias_correction": "false", "lr_schedule": json.dumps({"kind": "unknown (u from the adapter)"}),
              "default_probe": default_probe, "source": "u_from_adapter"}
    return tensors, header


def check_metadata(meta_file: Path, model: BidirectionalLM, probes: Sequence[str]) -> dict[str, str]:
    """A recorded edit-metadata.safetensors must be for this model: every probe recorded, widths equal."""
    from safetensors import safe_open
    if not meta_file.exists():
        raise ConvertError(meta_file, "no such file (expected the recorder's edit-metadata.safetensors)")
    with safe_open(str(meta_file), framework="pt") as sf:
        header = sf.metadata() or {}
        names = set(sf.keys())
        if header.get("format") != "edit-metadata/1":
            raise ConvertError(meta_file, f"__metadata__.format = {header.get('format')!r}, expected 'edit-metadata/1'")
        recorded = json.loads(header.get("modules", "[]"))
        core_of = {v: k for k, v in model.probe_names.items()}
        for m in probes:
            if m not in recorded or f"{m}.u" not in names:
                raise ConvertError(meta_file, f"has no module {m!r} (recorded: {recorded[:4]}{'...' if len(recorded) > 4 else ''}); "
                                              "is it the metadata of another model or adapter?")
            width = sf.get_slice(f"{m}.u").get_shape()[0]
            want = model.get_submodule(core_of[m]).out_features
            if width != want:
                raise ConvertError(meta_file, f"{m}.u has {width} rows; this model's {m} has d_out {want} "
                                              "(metadata of another model?)")
    return header


# --------------------------------------------------------------------------- ONNX

class _GraphModule(torch.nn.Module):
    """Flat-argument wrapper (ids, positions, want, *past) -> (logits, *acts, *presents), for parity()."""

    def __init__(self, model: BidirectionalLM) -> None:
        super().__init__()
        self.model = model

    def forward(self, input_ids, position_ids, want, *past_flat):
        past = [(past_flat[2 * i], past_flat[2 * i + 1]) for i in range(len(past_flat) // 2)]
        logits, probes, presents = self.model(input_ids, position_ids, past, want)
        return (logits, *probes.values(), *[t for kv in presents for t in kv])


def graph_names(model: BidirectionalLM) -> tuple[list[str], list[str]]:
    n = model.config.n_layers
    past = [f"past_{kv}.{i}" for i in range(n) for kv in ("key", "value")]
    pres = [f"present_{kv}.{i}" for i in range(n) for kv in ("key", "value")]
    return (["input_ids", "position_ids", "want", *past],
            ["logits", *[f"act.{p}" for p in model.probe_names.values()], *pres])


# K/V dtype at the graph boundary per bundle dtype: fp16 K/V for the GPU dtypes (half the cache bytes).
KV_DTYPES = {"fp32": "fp32", "fp16": "fp16", "int8": "fp32", "int4": "fp16"}


def export_cache_graph(model: BidirectionalLM, out_path: Path, external_data: bool, opset: int = 18,
                       kv_dtype: str = "fp32") -> None:
    """The project's shared cache-graph exporter (onnx_cache_export.py, whose docstring gives the signature);
    past_* in and present_* out are `kv_dtype` (core.py keeps the dtype of past at the boundary)."""
    from .onnx_cache_export import export_cache_onnx
    c = model.config
    export_cache_onnx(model, out_path, n_layers=c.n_layers, kv_heads=c.n_kv_heads, head_dim=c.head_dim,
                      probe_names=list(model.probe_names.values()), vocab_size=c.vocab_size, opset=opset,
                      external_data=external_data, dtype=torch.float16 if kv_dtype == "fp16" else torch.float32)


def quantize_int8(fp32_path: Path, out_path: Path) -> None:
    """onnxruntime dynamic quantisation: int8 weights per output channel, activations quantised per call."""
    import logging
    from onnxruntime.quantization import QuantType, quantize_dynamic
    # The quantizer logs a WARNING per int64 index tensor it skips (want, positions): expected, not news.
    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)
    try:
        quantize_dynamic(str(fp32_path), str(out_path), weight_type=QuantType.QInt8, per_channel=True,
                         use_external_data_format=fp32_path.with_name(fp32_path.name + ".data").exists())
    finally:
        root.setLevel(level)


# int4 settings, measured on the SmolLM2-135M bundle (trained weights) by `python -m edit_dllm.smollm.dtypes
# --sweep` (bench/smollm-dtypes.json "int4_sweep", docs/bench.md): top-1 agreement with fp32 on masked held-out
# code, block 32 asymmetric with head and embedding left as they are = 0.61; block 128: 0.50 (worse);
# symmetric: 0.66 (better); accuracy level 0 vs 4 (int8 activations in MatMulNBits): 0.64 vs 0.61 at the
# same size, level 4 faster; head kept fp32: 0.76 (the largest gain; +95 MB at a 49k vocabulary); embedding
# quantised too: 0.59 at 0.17x the fp32 size. Quality first: block 32, symmetric, level 4, head fp32.
INT4 = {"block_size": 32, "is_symmetric": True, "accuracy_level": 4, "quantize_head": False, "quantize_embedding": False}


def quantize_int4(fp32_path: Path, out_path: Path, *, block_size: int = INT4["block_size"],
                  is_symmetric: bool = INT4["is_symmetric"], accuracy_level: int | None = INT4["accuracy_level"],
                  quantize_head: bool = INT4["quantize_head"], quantize_embedding: bool = INT4["quantize_embedding"],
                  lora_rank: int = 0) -> None:
    """Weight-only int4 (com.microsoft MatMulNBits) with ONNX Runtime's own quantizer
    (onnxruntime.quantization.matmul_nbits_quantizer, round-to-nearest per block of `block_size` input
    channels). `quantize_head=False` keeps the logits MatMul fp32; `quantize_embedding` also turns the
    embedding Gather into GatherBlockQuantized. MatMuls whose weight has a dimension <= `lora_rank` (the
    LoRA A/B factors) stay fp32: they are a fraction of a percent of the weights and their B outputs are
    the EDIT probes (Eq 5), which 4-bit rounding would move."""
    import logging
    import onnx
    from onnxruntime.quantization import matmul_nbits_quantizer as mnq
    external = fp32_path.with_name(fp32_path.name + ".data").exists()
    model = onnx.load(str(fp32_path), load_external_data=True)
    exclude = [] if quantize_head else [n.name for n in model.graph.node if n.op_type == "MatMul" and _feeds_logits(model, n)]
    shapes = {i.name: tuple(i.dims) for i in model.graph.initializer}
    exclude += [n.name for n in model.graph.node if n.op_type == "MatMul" and len(n.input) > 1
                and n.input[1] in shapes and min(shapes[n.input[1]], default=0) <= lora_rank]
    ops = ("MatMul", "Gather") if quantize_embedding else ("MatMul",)
    cfg = mnq.DefaultWeightOnlyQuantConfig(block_size=block_size, is_symmetric=is_symmetric,
                                           accuracy_level=accuracy_level, op_types_to_quantize=ops,
                                           quant_axes=(("MatMul", 0), ("Gather", 1)))
    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)   # one INFO/WARNING line per node otherwise
    try:
        q = mnq.MatMulNBitsQuantizer(model, block_size=block_size, is_symmetric=is_symmetric,
                                     accuracy_level=accuracy_level, nodes_to_exclude=exclude, algo_config=cfg)
        q.process()
    finally:
        root.setLevel(level)
    data = out_path.name + ".data"
    out_path.with_name(data).unlink(missing_ok=True)
    q.model.save_model_to_file(str(out_path), use_external_data_format=external)


def _feeds_logits(model, node) -> bool:
    """True for the MatMul whose output reaches the graph output `logits` (the LM head)."""
    consumers: dict[str, list] = {}
    for n in model.graph.node:
        for i in n.input:
            consumers.setdefault(i, []).append(n)
    frontier, seen = list(node.output), set()
    while frontier:
        t = frontier.pop()
        if t == "logits":
            return True
        if t in seen:
            continue
        seen.add(t)
        for n in consumers.get(t, []):
            if n.op_type in ("MatMul", "Gemm"):   # another projection: not the head's path
                continue
            frontier.extend(n.output)
    return False


# Real text for the int4 check (code and prose, as the bundles are used): tokenised by the bundle's tokenizer.
CHECK_TEXT = """def merge(a, b):
    \"\"\"Merge two sorted lists into one sorted list.\"\"\"
    out, i, j = [], 0, 0
    while i < len(a) and j < len(b):
        if a[i] <= b[j]:
            out.append(a[i]); i += 1
        else:
            out.append(b[j]); j += 1
    return out + a[i:] + b[j:]

class Cache:
    def __init__(self, limit=128):
        self.limit = limit
        self.items = {}

The model fills every masked position at once and keeps the tokens it is most sure of; the rest are
masked again and predicted in the next step. A block ends when nothing is masked or the budget is spent.
"""


def top1_agreement(model: BidirectionalLM, onnx_path: Path, tok_file: Path, mask_id: int, *,
                   mask_frac: float = 0.3, seed: int = 0, text: str = CHECK_TEXT) -> dict[str, float]:
    """Top-1 agreement of the ONNX graph with the PyTorch fp32 module on real text with `mask_frac` of
    its tokens masked (the positions a denoising step predicts), plus the agreement on all rows."""
    from tokenizers import Tokenizer
    ids = Tokenizer.from_file(str(tok_file)).encode(text, add_special_tokens=False).ids
    x = torch.tensor([ids])
    g = torch.Generator().manual_seed(seed)
    masked = torch.rand(len(ids), generator=g) < mask_frac
    x[0, masked] = mask_id
    with torch.no_grad():
        ref = model.full(x)[0][0].argmax(-1)
    c = model.config
    s = len(ids)
    empty = [np.zeros((1, c.n_kv_heads, 0, c.head_dim), np.float32)] * (2 * c.n_layers)
    got = torch.from_numpy(OrtCacheGraph(onnx_path)(x.numpy(), np.arange(s)[None], (0, s), empty)["logits"][0].astype(np.float32)).argmax(-1)
    same = ref == got
    return {"tokens": s, "masked": int(masked.sum()), "top1_masked": float(same[masked].float().mean()),
            "top1_all": float(same.float().mean())}


class OrtCacheGraph:
    """Runs a cache graph with ONNX Runtime (the Python mirror of the TS engine's feed)."""

    def __init__(self, path: Path, threads: int = 1) -> None:
        import onnxruntime as ort
        so = ort.SessionOptions()
        so.intra_op_num_threads = threads
        so.inter_op_num_threads = 1
        self.session = ort.InferenceSession(str(path), so, providers=["CPUExecutionProvider"])
        self.outputs = [o.name for o in self.session.get_outputs()]
        past = [i for i in self.session.get_inputs() if i.name == "past_key.0"]
        self.kv_dtype = np.float16 if past and past[0].type == "tensor(float16)" else np.float32

    def __call__(self, ids: np.ndarray, pos: np.ndarray, want: tuple[int, int], past: Sequence[np.ndarray]):
        feeds = {"input_ids": ids.astype(np.int64), "position_ids": pos.astype(np.int64),
                 "want": np.array(want, dtype=np.int64)}
        for i, t in enumerate(past):
            feeds[f"past_{'key' if i % 2 == 0 else 'value'}.{i // 2}"] = t.astype(self.kv_dtype)
        return dict(zip(self.outputs, self.session.run(None, feeds)))


def parity(model: BidirectionalLM, onnx_path: Path, vocab: int, seed: int = 0, scales: dict | None = None) -> dict[str, float]:
    """Max abs diff ORT vs PyTorch per output kind over: no past (all rows, a block), and a past of 5.
    `scales`, when given, receives the largest |reference value| per kind."""
    g = torch.Generator().manual_seed(seed)
    run = OrtCacheGraph(onnx_path)
    c = model.config
    worst: dict[str, float] = {}
    for q, p, want in ((9, 0, (0, 9)), (9, 0, (3, 7)), (4, 5, (1, 4))):
        ids = torch.randint(0, vocab, (1, q), generator=g)
        pos = torch.arange(p, p + q)[None]
        past = [torch.randn(1, c.n_kv_heads, p, c.head_dim, generator=g) for _ in range(2 * c.n_layers)]
        with torch.no_grad():
            ref = _GraphModule(model)(ids, pos, torch.tensor(want), *past)
        got = run(ids.numpy(), pos.numpy(), want, [t.float().numpy() for t in past])
        for name, r in zip(graph_names(model)[1], ref):
            kind = name.split(".")[0]
            d = float(np.abs(r.float().numpy() - got[name].astype(np.float32)).max())
            worst[kind] = max(worst.get(kind, 0.0), d)
            if scales is not None:
                scales[kind] = max(scales.get(kind, 0.0), float(r.float().abs().max()))
    return worst


# --------------------------------------------------------------------------- the bundle

def convert(ckpt: str | Path, out: str | Path, *, adapter: str | Path | None, metadata: str | Path | None = None,
            dtype: str = "fp32", probes: str = "default", max_len: int | None = None, name: str | None = None,
            generation: Mapping[str, Any] | None = None, ids_override: Mapping[str, int | None] | None = None,
            shift: bool | None = None, parity_tol: float | None = 1e-4, min_top1: float | None = 0.9,
            vocab_check: bool = True,
            external_data_bytes: int = EXTERNAL_DATA_BYTES, log=print) -> dict:
    ckpt, out = Path(ckpt), Path(out)
    if dtype not in DTYPES:
        raise ConvertError("--dtype", f"{dtype!r}: expected one of {', '.join(DTYPES)}")
    if probes not in ("default", "all-qkv"):
        raise ConvertError("--probes", f"{probes!r}: expected 'default' or 'all-qkv'")
    cfg, spec = read_config(ckpt)
    tok_file = ckpt / "tokenizer.json"
    if not tok_file.exists():
        raise ConvertError(tok_file, "missing: the bundle needs the checkpoint's Hugging Face tokenizer.json")
    if adapter is None and metadata is not None:
        raise ConvertError("--metadata", "needs the adapter it was recorded with: pass --adapter DIR too")
    t0 = time.time()
    model, spec = load_checkpoint(ckpt, torch.float32)
    if shift is not None and shift != spec.core.shift:
        from dataclasses import replace
        model.config = replace(model.config, shift=shift)
        spec = replace(spec, core=model.config)
    vocab = spec.core.vocab_size
    n_tok = tokenizer_size(tok_file)
    if n_tok > vocab:
        raise ConvertError(tok_file, f"the vocabulary has {n_tok} ids but the embedding has {vocab} rows "
                                     f"(config.json): is this the tokenizer of another model?")
    if vocab_check and vocab - n_tok > max(1024, vocab // 10):   # released paddings: LLaDA 115 rows, Qwen2 399
        raise ConvertError(tok_file, f"the vocabulary has {n_tok} ids but the embedding has {vocab} rows "
                                     f"(config.json): far fewer ids than rows; is this the tokenizer of another model?")
    ids = resolve_ids(spec, ckpt, vocab, ids_override or {})
    # Without an adapter there are no probes: the bundle runs the rules that need none (full,
    # confidence, jot, ...); EDIT's rules need a LoRA's B outputs and say so.
    all_probes = attach_adapter(model, spec, adapter) if adapter is not None else []
    q_probes = [m for m in all_probes if m.endswith("q_proj")]
    default_probe = (q_probes or all_probes)[-1] if all_probes else None
    chosen = all_probes if probes == "all-qkv" else all_probes and [default_probe]
    core_of = {v: k for k, v in model.probe_names.items()}
    model.probe_names = {core_of[m]: m for m in chosen}
    log(f"loaded {spec.architecture} ({sum(p.numel() for p in model.parameters()):,} parameters)"
        + (f" and the adapter in {time.time() - t0:.1f} s; probes: {', '.join(chosen)}" if chosen else
           f" in {time.time() - t0:.1f} s; no adapter: no probes, EDIT rules unavailable"))

    out.mkdir(parents=True, exist_ok=True)
    meta_out = out / "edit-metadata.safetensors"
    meta_out.unlink(missing_ok=True)
    if adapter is None:
        pass
    elif metadata is not None:
        check_metadata(Path(metadata), model, chosen)
        shutil.copyfile(metadata, meta_out)
    else:
        from safetensors.torch import save_file
        tensors, header = metadata_from_adapter(Path(adapter), all_probes, default_probe)
        save_file(tensors, str(meta_out), metadata=header)
    shutil.copyfile(tok_file, out / "tokenizer.json")

    onnx_path = out / "model.onnx"
    for stale in (onnx_path, out / "model.onnx.data"):
        stale.unlink(missing_ok=True)
    weight_bytes = sum(p.numel() for p in model.parameters()) * (2 if dtype == "fp16" else 4)
    external = weight_bytes > external_data_bytes
    t0 = time.time()
    diffs: dict[str, float] = {}
    kv_dtype = KV_DTYPES[dtype]
    if dtype == "fp16":
        model = model.half()
        export_cache_graph(model, onnx_path, external, kv_dtype=kv_dtype)
    elif dtype in ("int8", "int4"):
        tmp = out / "model.fp32.onnx"
        # int4: the fp32 graph before quantisation can pass 2 GiB even when the int4 one does not.
        export_cache_graph(model, tmp, sum(p.numel() for p in model.parameters()) * 4 > external_data_bytes,
                           kv_dtype=kv_dtype)
        if dtype == "int8":
            quantize_int8(tmp, onnx_path)
        else:
            ranks = [m.lora_A.shape[0] for m in model.modules() if getattr(m, "lora_A", None) is not None]
            quantize_int4(tmp, onnx_path, lora_rank=max(ranks, default=0))
        tmp.unlink()
        out.joinpath("model.fp32.onnx.data").unlink(missing_ok=True)
        if dtype == "int4" and min_top1 is not None:
            agree = top1_agreement(model, onnx_path, tok_file, ids["mask"])
            diffs = {"top1_masked": agree["top1_masked"], "top1_all": agree["top1_all"]}
            if agree["top1_masked"] < min_top1:
                raise RuntimeError(f"int4 check failed: top-1 agreement with fp32 on {agree['masked']} masked "
                                   f"tokens of real text is {agree['top1_masked']:.3f} < {min_top1} "
                                   f"(all rows {agree['top1_all']:.3f}); use --dtype int8 or fp16 for this model")
    else:
        export_cache_graph(model, onnx_path, external)
        if parity_tol is not None:
            # Absolute on O(1) outputs (the tiny test models: <= 1e-4), relative to the output's largest
            # magnitude beyond that (float32 rounding grows with it in deep, wide models).
            scales: dict[str, float] = {}
            diffs = parity(model, onnx_path, min(n_tok, vocab), scales=scales)
            bad = {k: v for k, v in diffs.items() if v > parity_tol * max(1.0, scales[k])}
            if bad:
                raise RuntimeError(f"ONNX parity check failed (max abs diff > {parity_tol} x max(1, |output|)): "
                                   f"{bad}; output magnitudes {scales}")
    log(f"exported {onnx_path} ({dtype}{', external data' if external else ''}) in {time.time() - t0:.1f} s"
        + (f"; parity {diffs}" if diffs else ""))

    c = spec.core
    bundle = {
        "format": BUNDLE_FORMAT,
        "name": name or f"{ckpt.name}-{dtype}",
        "ids": ids,
        "vocab_size": vocab,
        "model": {"d_model": c.d_model, "n_layers": c.n_layers, "params": int(sum(p.numel() for p in model.parameters())),
                  "architecture": spec.architecture, "max_len": max_len if max_len is not None else spec.max_len,
                  "shift": c.shift, "positions": "rope", "dtype": dtype, "tied_head": c.tied_head,
                  "cache": {"layers": c.n_layers, "kv_heads": c.n_kv_heads, "head_dim": c.head_dim,
                            "kv_dtype": kv_dtype},
                  **({"attention": {"mode": "block-causal", "block_size": c.block_size}}
                     if c.attention == "block-causal" else {})},
        "chat_template": chat_template(ckpt),
        "infill": ({"template": INFILL_TEMPLATE} if c.attention != "block-causal" else block_causal_infill(tok_file)),
        "generation": dict(generation or (block_diffusion_defaults(spec)[0] if c.attention == "block-causal"
                                          else DEFAULT_GENERATION)),
        "probes": {f"act.{m}": m for m in chosen},
        "default_probe": default_probe,
        "tasks": {"chat": json.loads(json.dumps(DEFAULT_TASK if chosen else NO_PROBE_TASK))},  # replaced below
        "default_task": "chat",
        "source": {"checkpoint": ckpt.resolve().name, "adapter": Path(adapter).resolve().name if adapter else None,
                   "metadata": "recorded" if metadata is not None else "u_from_adapter" if adapter else None,
                   "tokenizer_ids": n_tok},
    }
    if c.attention == "block-causal" and not chosen:   # the official decoding rule, not the slow baseline
        bundle["tasks"]["chat"]["stop"] = block_diffusion_defaults(spec)[1]
    if c.attention == "block-causal" and bundle["generation"]["block_length"] != c.block_size:
        raise ConvertError("--block-length", f"{bundle['generation']['block_length']}: a block-causal model decodes "
                                             f"the blocks it was trained on; use its block size {c.block_size}")
    (out / "bundle.json").write_text(json.dumps(bundle, indent=2) + "\n")
    return bundle


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m edit_dllm.convert", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--from", dest="src", required=True, help="local Hugging Face checkpoint directory")
    ap.add_argument("--adapter", help="peft LoRA adapter directory (q/k/v targets: the EDIT probes)")
    g = ap.add_mutually_exclusive_group()
    g.add_argument("--metadata", help="edit-metadata.safetensors recorded during the adapter's SFT")
    g.add_argument("--u-from-adapter", action="store_true",
                   help="estimate u from the adapter's B matrices (the default without --metadata)")
    ap.add_argument("--dtype", default="fp32", choices=DTYPES)
    ap.add_argument("--probes", default="default", choices=("default", "all-qkv"))
    ap.add_argument("--max-len", type=int, help="prompt + generation limit (default: the config's trained length)")
    ap.add_argument("--name", help="bundle name (default: <checkpoint dir>-<dtype>)")
    ap.add_argument("--mask-id", type=int, help="mask token id when the config has none")
    ap.add_argument("--gen-length", type=int, help=f"default {DEFAULT_GENERATION['gen_length']} (block-causal: 4 blocks)")
    ap.add_argument("--block-length", type=int, help=f"default {DEFAULT_GENERATION['block_length']} (block-causal: "
                                                     "the model's block size)")
    ap.add_argument("--steps", type=int, help=f"default {DEFAULT_GENERATION['steps']} (block-causal: gen length)")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--min-top1", type=float, default=0.9,
                    help="int4: least top-1 agreement with fp32 on masked real text (default 0.9)")
    ap.add_argument("--out", required=True)
    a = ap.parse_args(argv)
    torch.set_num_threads(a.threads)
    try:
        b = convert(a.src, a.out, adapter=a.adapter, metadata=a.metadata, dtype=a.dtype, probes=a.probes,
                    max_len=a.max_len, name=a.name, ids_override={"mask": a.mask_id},
                    generation=None if a.gen_length is None and a.block_length is None and a.steps is None else
                    {"gen_length": a.gen_length or DEFAULT_GENERATION["gen_length"],
                     "block_length": a.block_length or DEFAULT_GENERATION["block_length"],
                     "steps": a.steps or DEFAULT_GENERATION["steps"], "schedule": "uniform"},
                    min_top1=a.min_top1, log=lambda s: print(s, file=sys.stderr))
    except ConvertError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(json.dumps({"out": a.out, "name": b["name"], "architecture": b["model"]["architecture"],
                      "dtype": b["model"]["dtype"], "probes": list(b["probes"].values())}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
