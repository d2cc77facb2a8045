"""Loads the official SDAR and Fast-dLLM v2 modeling code from a local folder, for the parity tests.

The code is never part of this repository (CI cannot fetch it). Lay it out as

    $EDIT_OFFICIAL_CODE/sdar/          modeling_sdar.py, configuration_sdar.py (JetAstra/SDAR
                                       training/model/SDAR-4B-Chat/), generate.py (the repository root's)
    $EDIT_OFFICIAL_CODE/fast_dllm_v2/  modeling.py, configuration.py (Efficient-Large-Model/Fast_dLLM_v2_*)

and put a transformers that the code imports first on PYTHONPATH (it was written for transformers 4.52-4.53:
`LossKwargs`, `SlidingWindowCache`; transformers 4.53.3 runs both). Tests skip when the folder is absent.

What is replaced, and why (only CUDA kernels and training-only code; the modeling and generate code run as
published):
- `flash_attn` (CUDA-only): `rms_norm_fn` is the float32 RMSNorm that modeling_sdar.py keeps commented out
  next to the call; `flash_attn_func(causal=False)` is the same attention by torch SDPA with GQA.
- `fused_linear_diffusion_cross_entropy` (triton, training loss only): an empty module.
- generate.py's `sample_with_temperature_topk_topp` draws with torch.multinomial; the deterministic setting
  the issue asks for is argmax with the argmax's softmax probability as confidence (argmax_sampler).
"""
from __future__ import annotations

import importlib
import importlib.util
import os
import sys
import types
from pathlib import Path

import torch
import torch.nn.functional as F


def official_dir() -> Path | None:
    d = os.environ.get("EDIT_OFFICIAL_CODE")
    return Path(d) if d and Path(d).is_dir() else None


def _install_kernel_shims() -> None:
    if "flash_attn" in sys.modules:
        return
    # The hub-kernel loader installed for transformers 5 does not import under 4.53: hide it (no kernels used)
    sys.modules.setdefault("kernels", None)
    # transformers probes for an installed flash_attn at import: let it find none before the shim exists
    importlib.import_module("transformers.modeling_flash_attention_utils")
    importlib.import_module("transformers.modeling_utils")

    def rms_norm_fn(x, weight, bias=None, eps=1e-6, **_):
        dt = x.dtype
        xf = x.float()
        xf = xf * torch.rsqrt(xf.pow(2).mean(-1, keepdim=True) + eps)
        return weight * xf.to(dt)

    def flash_attn_func(q, k, v, causal=False, softmax_scale=None, **_):
        # flash-attn layout [b, l, h, d]; fewer k/v heads = grouped-query attention
        out = F.scaled_dot_product_attention(q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2),
                                             is_causal=causal, scale=softmax_scale, enable_gqa=True)
        return out.transpose(1, 2)

    fa = types.ModuleType("flash_attn")
    fa.flash_attn_func = flash_attn_func
    fa.flash_attn_varlen_func = None
    pad = types.ModuleType("flash_attn.bert_padding")
    pad.index_first_axis = pad.pad_input = pad.unpad_input = None
    ops = types.ModuleType("flash_attn.ops")
    tri = types.ModuleType("flash_attn.ops.triton")
    ln = types.ModuleType("flash_attn.ops.triton.layer_norm")
    ln.rms_norm_fn = rms_norm_fn
    for name, mod in {"flash_attn": fa, "flash_attn.bert_padding": pad, "flash_attn.ops": ops,
                      "flash_attn.ops.triton": tri, "flash_attn.ops.triton.layer_norm": ln}.items():
        sys.modules[name] = mod


def _load_package(pkg_name: str, folder: Path, modules: list[str], stubs: dict[str, dict] | None = None):
    pkg = types.ModuleType(pkg_name)
    pkg.__path__ = [str(folder)]
    sys.modules[pkg_name] = pkg
    for stub, attrs in (stubs or {}).items():
        m = types.ModuleType(f"{pkg_name}.{stub}")
        m.__dict__.update(attrs)
        sys.modules[f"{pkg_name}.{stub}"] = m
    out = {}
    for name in modules:
        spec = importlib.util.spec_from_file_location(f"{pkg_name}.{name}", folder / f"{name}.py")
        mod = importlib.util.module_from_spec(spec)
        sys.modules[f"{pkg_name}.{name}"] = mod
        spec.loader.exec_module(mod)
        out[name] = mod
    return out


def load_sdar():
    """-> (SDARConfig, SDARForCausalLM, generate module) from $EDIT_OFFICIAL_CODE/sdar."""
    _install_kernel_shims()
    mods = _load_package("official_sdar", official_dir() / "sdar", ["configuration_sdar", "modeling_sdar", "generate"],
                         stubs={"fused_linear_diffusion_cross_entropy": {"FusedLinearDiffusionCrossEntropyLoss": None}})
    return mods["configuration_sdar"].SDARConfig, mods["modeling_sdar"].SDARForCausalLM, mods["generate"]


def load_fast_dllm_v2():
    """-> (Fast_dLLM_QwenConfig, Fast_dLLM_QwenForCausalLM) from $EDIT_OFFICIAL_CODE/fast_dllm_v2."""
    _install_kernel_shims()
    mods = _load_package("official_fast_dllm_v2", official_dir() / "fast_dllm_v2", ["configuration", "modeling"])
    return mods["configuration"].Fast_dLLM_QwenConfig, mods["modeling"].Fast_dLLM_QwenForCausalLM


def argmax_sampler(logits, temperature=1.0, top_k=0, top_p=1.0):
    """Deterministic stand-in for generate.py's sample_with_temperature_topk_topp: (argmax, its softmax prob)."""
    probs = F.softmax(logits.float(), dim=-1)
    p, x = probs.max(dim=-1)
    return x, p


def load_weights(model: torch.nn.Module, ckpt: Path) -> None:
    """The checkpoint's safetensors into an official model (as from_pretrained does, without remote code)."""
    import json
    from safetensors.torch import load_file
    index = json.loads((ckpt / "model.safetensors.index.json").read_text())["weight_map"]
    state = {}
    for f in sorted(set(index.values())):
        state.update(load_file(str(ckpt / f)))
    missing, unexpected = model.load_state_dict({k: v.float() for k, v in state.items()}, strict=False)
    missing = [m for m in missing if m != "lm_head.weight"]   # tied head
    if missing or unexpected:
        raise AssertionError(f"official model vs checkpoint: missing {missing}, unexpected {unexpected}")
    if getattr(model.config, "tie_word_embeddings", False):
        model.tie_weights()
