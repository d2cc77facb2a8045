"""Checkpoint layouts: each family's config.json keys -> CoreConfig, and its tensor names <-> the core's.

- `llada` (model_type "llada"; LLaDA-8B-Base/-Instruct, LLaDA-1.5): OLMo-derived names under
  `model.transformer.*` (wte, blocks.{i}.{attn_norm,q_proj,k_proj,v_proj,attn_out,ff_norm,ff_proj,
  up_proj,ff_out}, ln_f, ff_out); ff_proj is the SwiGLU gate (act(ff_proj x) * up_proj x). No shift.
- `dream` (model_type "Dream"; Dream-v0, DiffuCoder, Dream-Coder): a Qwen2 body with the HF LLaMA
  names (`model.layers.{i}.self_attn.*`, `mlp.*`, `lm_head`), q/k/v biases, GQA, and the logit shift.
- `llama` (model_type "llama"; SmolLM2 adapted to masked diffusion, edit_dllm/smollm): the same HF names,
  biases from attention_bias / mlp_bias, tied head from tie_word_embeddings, shift chosen by the caller.
- `sdar` (model_type "sdar", SDARForCausalLM; JetLM/SDAR-1.7B/4B/8B-Chat): a Qwen3 body (HF names plus
  `self_attn.q_norm` / `k_norm`, no q/k/v bias), block-causal attention with config `block_size`, NO
  shift, mask id from config `mask_token_id` (modeling_sdar.py / configuration_sdar.py in JetAstra/SDAR).
- `fast-dllm-v2` (model_type "Fast_dLLM_Qwen", Fast_dLLM_QwenForCausalLM; Efficient-Large-Model/
  Fast_dLLM_v2_1.5B, 7B): a Qwen2.5 body (q/k/v bias, no o_proj bias), block-causal attention with config
  `bd_size` (default 32, as its configuration.py), the logit shift kept from the AR model; its config has
  no mask id (generate() defaults to 151665, the tokenizer's `|<MASK>|`), so the converter reads it from
  the tokenizer.

Anything a family's config enables that the core does not implement (ALiBi, rope scaling, sliding
windows, block groups, other norms or activations) is refused by name instead of converting wrongly.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from .core import CoreConfig
from .errors import ConvertError

LAYER_MODULES = ("attn_norm", "q_proj", "k_proj", "v_proj", "o_proj", "mlp_norm", "gate_proj", "up_proj", "down_proj")


@dataclass(frozen=True)
class Layout:
    name: str
    layer_prefix: str                 # checkpoint prefix of layer i, with "{i}"
    layer_map: Mapping[str, str]      # core module (in a layer) -> checkpoint module (after the prefix)
    global_map: Mapping[str, str]     # core module -> checkpoint module (embed, norm, lm_head)

    def to_checkpoint(self, core_module: str) -> str:
        m = re.fullmatch(r"layers\.(\d+)\.(\w+)", core_module)
        if m:
            return self.layer_prefix.format(i=m.group(1)) + self.layer_map[m.group(2)]
        return self.global_map[core_module]

    def to_core(self, ckpt_module: str) -> str | None:
        """Checkpoint module name -> core module name, or None when it is not one of the layout's."""
        for core, ck in self.global_map.items():
            if ckpt_module == ck:
                return core
        pre = re.escape(self.layer_prefix).replace(re.escape("{i}"), r"(\d+)")
        m = re.fullmatch(pre + r"(.+)", ckpt_module)
        if m:
            for core, ck in self.layer_map.items():
                if m.group(2) == ck:
                    return f"layers.{m.group(1)}.{core}"
        return None


LLADA = Layout(
    name="llada",
    layer_prefix="model.transformer.blocks.{i}.",
    layer_map={"attn_norm": "attn_norm", "q_proj": "q_proj", "k_proj": "k_proj", "v_proj": "v_proj",
               "o_proj": "attn_out", "mlp_norm": "ff_norm", "gate_proj": "ff_proj", "up_proj": "up_proj",
               "down_proj": "ff_out"},
    global_map={"embed": "model.transformer.wte", "norm": "model.transformer.ln_f", "lm_head": "model.transformer.ff_out"},
)

HF_LLAMA = Layout(
    name="hf-llama",
    layer_prefix="model.layers.{i}.",
    layer_map={"attn_norm": "input_layernorm", "q_proj": "self_attn.q_proj", "k_proj": "self_attn.k_proj",
               "v_proj": "self_attn.v_proj", "o_proj": "self_attn.o_proj", "mlp_norm": "post_attention_layernorm",
               "gate_proj": "mlp.gate_proj", "up_proj": "mlp.up_proj", "down_proj": "mlp.down_proj"},
    global_map={"embed": "model.embed_tokens", "norm": "model.norm", "lm_head": "lm_head"},
)


# Qwen3 (SDAR): the HF names plus the per-head q/k norms.
HF_QWEN3 = Layout(
    name="hf-qwen3",
    layer_prefix=HF_LLAMA.layer_prefix,
    layer_map={**HF_LLAMA.layer_map, "q_norm": "self_attn.q_norm", "k_norm": "self_attn.k_norm"},
    global_map=HF_LLAMA.global_map,
)


@dataclass(frozen=True)
class ModelSpec:
    """What a checkpoint's config.json says, in the core's terms."""
    architecture: str                 # bundle.json model.architecture: "llada" | "dream" | "llama" | "sdar" | "fast-dllm-v2"
    core: CoreConfig
    layout: Layout
    ids: dict[str, int | None] = field(default_factory=dict)   # mask, eos, pad, bos (None when absent)
    max_len: int | None = None


def _get(cfg: Mapping[str, Any], key: str, file: Path, default: Any = ...) -> Any:
    if key in cfg and cfg[key] is not None:
        return cfg[key]
    if default is ...:
        raise ConvertError(file, f"missing key '{key}' (expected in this model_type's config.json)")
    return default


def _refuse(file: Path, key: str, value: Any, supported: str) -> None:
    raise ConvertError(file, f"'{key}' = {value!r} is not supported by the converter ({supported})")


def _first_id(v: Any) -> int | None:
    if v is None:
        return None
    if isinstance(v, list):
        return int(v[0]) if v else None
    return int(v)


def llada_spec(cfg: Mapping[str, Any], file: Path) -> ModelSpec:
    checks = {"block_type": ("llama", "LLaMA-style blocks"), "layer_norm_type": ("rms", "RMSNorm"),
              "activation_type": ("silu", "SwiGLU with SiLU"), "rope": (True, "rotary positions"),
              "alibi": (False, "no ALiBi"), "block_group_size": (1, "no block groups"),
              "scale_logits": (False, "unscaled logits"), "input_emb_norm": (False, "no embedding norm"),
              "attention_layer_norm": (False, "no q/k norm")}
    for key, (want, what) in checks.items():
        if key in cfg and cfg[key] is not None and cfg[key] != want:
            _refuse(file, key, cfg[key], f"expected {want!r}: {what}")
    d = int(_get(cfg, "d_model", file))
    heads = int(_get(cfg, "n_heads", file))
    kv = cfg.get("n_kv_heads")
    if kv is None:
        kv = 1 if cfg.get("multi_query_attention") else heads
    d_ff = cfg.get("mlp_hidden_size") or int(_get(cfg, "mlp_ratio", file)) * d
    vocab = int(cfg.get("embedding_size") or _get(cfg, "vocab_size", file))
    include_bias = bool(cfg.get("include_bias", False))
    core = CoreConfig(vocab_size=vocab, d_model=d, n_layers=int(_get(cfg, "n_layers", file)), n_heads=heads,
                      n_kv_heads=int(kv), head_dim=d // heads, d_ff=int(d_ff),
                      rope_theta=float(_get(cfg, "rope_theta", file, 10000.0)),
                      rms_eps=float(_get(cfg, "rms_norm_eps", file, 1e-5)),
                      qkv_bias=include_bias or bool(cfg.get("include_qkv_bias", False)), bias=include_bias,
                      tied_head=bool(cfg.get("weight_tying", False)), shift=False)
    ids = {"mask": _first_id(cfg.get("mask_token_id", 126336)), "eos": _first_id(cfg.get("eos_token_id")),
           "pad": _first_id(cfg.get("pad_token_id")), "bos": _first_id(cfg.get("bos_token_id"))}
    return ModelSpec("llada", core, LLADA, ids, cfg.get("max_sequence_length"))


def _qwen_llama_core(cfg: Mapping[str, Any], file: Path, qkv_bias: bool, bias: bool, shift: bool,
                     qk_norm: bool = False, block_size: int = 0) -> CoreConfig:
    if cfg.get("rope_scaling"):
        _refuse(file, "rope_scaling", cfg["rope_scaling"], "plain rotary only")
    if cfg.get("use_sliding_window"):
        _refuse(file, "use_sliding_window", True, "full attention only")
    act = cfg.get("hidden_act", "silu")
    if act != "silu":
        _refuse(file, "hidden_act", act, "SwiGLU with SiLU")
    d = int(_get(cfg, "hidden_size", file))
    heads = int(_get(cfg, "num_attention_heads", file))
    return CoreConfig(vocab_size=int(_get(cfg, "vocab_size", file)), d_model=d,
                      n_layers=int(_get(cfg, "num_hidden_layers", file)), n_heads=heads,
                      n_kv_heads=int(cfg.get("num_key_value_heads") or heads),
                      head_dim=int(cfg.get("head_dim") or d // heads),
                      d_ff=int(_get(cfg, "intermediate_size", file)),
                      rope_theta=float(_get(cfg, "rope_theta", file, 10000.0)),
                      rms_eps=float(_get(cfg, "rms_norm_eps", file, 1e-6)), qkv_bias=qkv_bias, bias=bias,
                      tied_head=bool(cfg.get("tie_word_embeddings", False)), shift=shift, qk_norm=qk_norm,
                      attention="block-causal" if block_size else "bidirectional", block_size=block_size)


def dream_spec(cfg: Mapping[str, Any], file: Path) -> ModelSpec:
    core = _qwen_llama_core(cfg, file, qkv_bias=True, bias=False, shift=True)
    ids = {"mask": _first_id(_get(cfg, "mask_token_id", file)), "eos": _first_id(cfg.get("eos_token_id")),
           "pad": _first_id(cfg.get("pad_token_id")), "bos": _first_id(cfg.get("bos_token_id"))}
    return ModelSpec("dream", core, HF_LLAMA, ids, cfg.get("max_position_embeddings"))


def llama_spec(cfg: Mapping[str, Any], file: Path, shift: bool = False) -> ModelSpec:
    """An HF LLaMA checkpoint adapted to masked diffusion (its mask id comes from config mask_token_id
    or from the caller)."""
    attn_bias = bool(cfg.get("attention_bias", False))
    core = _qwen_llama_core(cfg, file, qkv_bias=attn_bias, bias=bool(cfg.get("mlp_bias", False)), shift=shift)
    if attn_bias:  # LLaMA's attention_bias also puts a bias on o_proj, which the core ties to `bias`
        _refuse(file, "attention_bias", True, "q/k/v bias without an o_proj bias (Qwen2 style) only")
    ids = {"mask": _first_id(cfg.get("mask_token_id")), "eos": _first_id(cfg.get("eos_token_id")),
           "pad": _first_id(cfg.get("pad_token_id")), "bos": _first_id(cfg.get("bos_token_id"))}
    return ModelSpec("llama", core, HF_LLAMA, ids, cfg.get("max_position_embeddings"))


def _block_size(cfg: Mapping[str, Any], key: str, file: Path, default: Any = ...) -> int:
    v = _get(cfg, key, file, default)
    if not isinstance(v, int) or isinstance(v, bool) or v < 1:
        raise ConvertError(file, f"'{key}' = {v!r}: expected the block-diffusion block size, a positive integer")
    return v


def sdar_spec(cfg: Mapping[str, Any], file: Path) -> ModelSpec:
    if cfg.get("attention_bias"):  # SDAR's attention_bias also biases o_proj, which the core ties to the MLP's bias
        _refuse(file, "attention_bias", True, "Qwen3 attention without biases (every released SDAR)")
    bs = _block_size(cfg, "block_size", file)
    core = _qwen_llama_core(cfg, file, qkv_bias=False, bias=False, shift=False, qk_norm=True, block_size=bs)
    ids = {"mask": _first_id(_get(cfg, "mask_token_id", file)), "eos": _first_id(cfg.get("eos_token_id")),
           "pad": _first_id(cfg.get("pad_token_id")), "bos": _first_id(cfg.get("bos_token_id"))}
    return ModelSpec("sdar", core, HF_QWEN3, ids, cfg.get("max_position_embeddings"))


def fast_dllm_v2_spec(cfg: Mapping[str, Any], file: Path) -> ModelSpec:
    layer_types = cfg.get("layer_types")
    if layer_types and any(t != "full_attention" for t in layer_types):
        _refuse(file, "layer_types", sorted(set(layer_types)), "full_attention in every layer")
    bs = _block_size(cfg, "bd_size", file, 32)
    core = _qwen_llama_core(cfg, file, qkv_bias=True, bias=False, shift=True, block_size=bs)
    ids = {"mask": _first_id(cfg.get("mask_token_id")), "eos": _first_id(cfg.get("eos_token_id")),
           "pad": _first_id(cfg.get("pad_token_id")), "bos": _first_id(cfg.get("bos_token_id"))}
    return ModelSpec("fast-dllm-v2", core, HF_LLAMA, ids, cfg.get("max_position_embeddings"))


SPECS = {"llada": llada_spec, "dream": dream_spec, "llama": llama_spec, "sdar": sdar_spec,
         "fast_dllm_qwen": fast_dllm_v2_spec}


def model_spec(cfg: Mapping[str, Any], file: Path) -> ModelSpec:
    """config.json -> ModelSpec; an unknown model_type names the supported ones."""
    mt = cfg.get("model_type")
    key = str(mt).lower() if mt is not None else None
    if key not in SPECS:
        raise ConvertError(file, f"model_type {mt!r} is not supported; supported model_type values: "
                                 f"'llada' (LLaDA-8B, LLaDA-1.5), 'Dream' (Dream-v0, DiffuCoder, Dream-Coder), "
                                 f"'llama' (an HF LLaMA adapted to masked diffusion), 'sdar' (SDAR-1.7B/4B/8B), "
                                 f"'Fast_dLLM_Qwen' (Fast-dLLM v2 1.5B, 7B)")
    return SPECS[key](cfg, file)


def core_param_to_checkpoint(layout: Layout, core_param: str) -> str:
    """`layers.3.o_proj.weight` -> `model.transformer.blocks.3.attn_out.weight` (LLaDA)."""
    module, _, leaf = core_param.rpartition(".")
    return f"{layout.to_checkpoint(module)}.{leaf}"
