"""Reading a local Hugging Face checkpoint directory into the core model (nothing fetched, no remote code).

    read_config(dir) -> (config dict, ModelSpec)
    shard_files(dir) -> list of safetensors files (model.safetensors, or the shards of the index)
    load_checkpoint(dir, dtype) -> (BidirectionalLM, ModelSpec)
    attach_adapter(model, layout, adapter_dir) -> probe names (the checkpoint's q/k/v module names)

Weight names must match the layout exactly: a mismatch is one error listing the missing and the
unexpected names (first few of each, with counts).
"""
from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import torch

from .core import PROBE_KINDS, BidirectionalLM
from .errors import ConvertError
from .layouts import ModelSpec, core_param_to_checkpoint, model_spec

INDEX = "model.safetensors.index.json"
SINGLE = "model.safetensors"


def read_json(file: Path) -> Any:
    try:
        return json.loads(file.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConvertError(file, "no such file") from None
    except json.JSONDecodeError as e:
        raise ConvertError(file, f"not valid JSON ({e})") from None


def read_config(ckpt_dir: Path) -> tuple[dict, ModelSpec]:
    if not ckpt_dir.is_dir():
        raise ConvertError(ckpt_dir, "not a directory (expected a Hugging Face checkpoint directory)")
    cfg_file = ckpt_dir / "config.json"
    if not cfg_file.exists():
        raise ConvertError(cfg_file, "missing: a checkpoint directory needs config.json (with model_type)")
    cfg = read_json(cfg_file)
    return cfg, model_spec(cfg, cfg_file)


def shard_files(ckpt_dir: Path) -> list[Path]:
    index = ckpt_dir / INDEX
    if index.exists():
        weight_map = read_json(index).get("weight_map")
        if not isinstance(weight_map, dict) or not weight_map:
            raise ConvertError(index, "expected a non-empty 'weight_map' {tensor name: shard file}")
        files = sorted(set(weight_map.values()))
        missing = [f for f in files if not (ckpt_dir / f).exists()]
        if missing:
            raise ConvertError(index, f"names {len(missing)} shard file(s) that are not in {ckpt_dir}: {', '.join(missing)}")
        return [ckpt_dir / f for f in files]
    if (ckpt_dir / SINGLE).exists():
        return [ckpt_dir / SINGLE]
    raise ConvertError(ckpt_dir, f"no weights: expected {SINGLE} or {INDEX} with its shards "
                                 "(only safetensors are read; convert .bin checkpoints with transformers first)")


def _name_list(names: list[str], limit: int = 8) -> str:
    shown = ", ".join(names[:limit])
    return shown + (f", ... ({len(names)} in all)" if len(names) > limit else "")


def load_checkpoint(ckpt_dir: str | Path, dtype: torch.dtype = torch.float32) -> tuple[BidirectionalLM, ModelSpec]:
    from safetensors import safe_open
    ckpt_dir = Path(ckpt_dir)
    _, spec = read_config(ckpt_dir)
    files = shard_files(ckpt_dir)
    with torch.device("meta"):
        model = BidirectionalLM(spec.core)
    expected = {core_param_to_checkpoint(spec.layout, n): n for n in model.state_dict()}
    present: dict[str, Path] = {}
    for f in files:
        with safe_open(str(f), framework="pt") as sf:
            for k in sf.keys():
                present[k] = f
    missing = sorted(set(expected) - set(present))
    unexpected = sorted(k for k in set(present) - set(expected) if not k.endswith("rotary_emb.inv_freq"))
    if spec.core.tied_head:  # some tied checkpoints still store the head; it must equal the embedding
        unexpected = [k for k in unexpected if k != spec.layout.to_checkpoint("lm_head") + ".weight"]
    if missing or unexpected:
        where = ckpt_dir / (INDEX if (ckpt_dir / INDEX).exists() else SINGLE)
        parts = []
        if missing:
            parts.append(f"missing {len(missing)} tensor(s) the {spec.architecture} layout needs: {_name_list(missing)}")
        if unexpected:
            parts.append(f"unexpected {len(unexpected)} tensor(s): {_name_list(unexpected)}")
        raise ConvertError(where, "weight names do not match the " + spec.layout.name + " layout: " + "; ".join(parts))
    model = model.to_empty(device="cpu").to(dtype)
    state = dict(model.named_parameters())
    by_file: dict[Path, list[str]] = {}
    for ck in expected:
        by_file.setdefault(present[ck], []).append(ck)
    with torch.no_grad():
        for f, names in by_file.items():
            with safe_open(str(f), framework="pt") as sf:
                for ck in names:
                    t = sf.get_tensor(ck)
                    p = state[expected[ck]]
                    if tuple(t.shape) != tuple(p.shape):
                        raise ConvertError(f, f"tensor {ck} has shape {list(t.shape)}; config.json implies {list(p.shape)}")
                    p.copy_(t.to(dtype))
    return model.eval(), spec


def attach_adapter(model: BidirectionalLM, spec: ModelSpec, adapter_dir: str | Path) -> list[str]:
    """Loads a peft LoRA adapter (adapter_config.json + adapter_model.safetensors). q/k/v LoRAs stay
    separate branches (their B outputs are the EDIT probes); LoRAs on other linears are merged into
    the base weight (W += scaling B A). Returns the probe names (checkpoint module names), in order."""
    from safetensors.torch import load_file
    adapter_dir = Path(adapter_dir)
    cfg_file = adapter_dir / "adapter_config.json"
    acfg = read_json(cfg_file)
    if str(acfg.get("peft_type", "LORA")).upper() != "LORA":
        raise ConvertError(cfg_file, f"peft_type {acfg.get('peft_type')!r}: expected 'LORA'")
    if acfg.get("use_dora"):
        raise ConvertError(cfg_file, "use_dora = true: DoRA adapters are not supported (expected a plain LoRA)")
    if acfg.get("modules_to_save"):
        raise ConvertError(cfg_file, f"modules_to_save = {acfg['modules_to_save']}: fully trained module copies are not "
                                     "supported (expected a plain LoRA; merge them into the checkpoint first)")
    if acfg.get("bias", "none") != "none":
        raise ConvertError(cfg_file, f"bias = {acfg['bias']!r}: trained biases are not supported (expected 'none')")
    targets = acfg.get("target_modules") or []
    if isinstance(targets, str):
        targets = [targets]
    if not any(t.split(".")[-1] in PROBE_KINDS or model_kind(spec, t) in PROBE_KINDS for t in targets):
        raise ConvertError(cfg_file, f"target_modules {targets} include no q/k/v projection; EDIT needs LoRA on "
                                     f"the attention's q_proj/k_proj/v_proj (the probes)")
    r = int(acfg.get("r", 8))
    alpha = float(acfg.get("lora_alpha", r))
    scaling = alpha / math.sqrt(r) if acfg.get("use_rslora") else alpha / r
    weights_file = adapter_dir / "adapter_model.safetensors"
    if not weights_file.exists():
        raise ConvertError(weights_file, "missing (expected the adapter weights next to adapter_config.json)")
    tensors = load_file(str(weights_file))
    pairs: dict[str, dict[str, torch.Tensor]] = {}
    for name, t in tensors.items():
        for ab in ("lora_A", "lora_B"):
            if f".{ab}." in name:
                module = name.split(f".{ab}.", 1)[0]
                module = module[len("base_model.model."):] if module.startswith("base_model.model.") else module
                pairs.setdefault(module, {})[ab] = t
    if not pairs:
        raise ConvertError(weights_file, "no LoRA weights (expected names like '<module>.lora_A.weight')")
    probes: list[tuple[str, str]] = []
    for module, ab in pairs.items():
        core = spec.layout.to_core(module)
        if core is None or "lora_A" not in ab or "lora_B" not in ab:
            example = spec.layout.to_checkpoint("layers.0.q_proj")
            raise ConvertError(weights_file, f"LoRA module {module!r} is not a linear of this {spec.architecture} "
                                             f"checkpoint (its modules are named like {example!r}); is the adapter for another model?")
        lin = model.get_submodule(core)
        A, B = ab["lora_A"].float(), ab["lora_B"].float()
        if core.rsplit(".", 1)[-1] in PROBE_KINDS:
            try:
                lin.set_lora(A, B, scaling)
            except ValueError as e:
                raise ConvertError(weights_file, f"{module}: {e}; is the adapter for another model?") from None
            probes.append((core, module))
        else:
            with torch.no_grad():
                lin.weight += (scaling * (B @ A)).to(lin.weight.dtype)
    probes.sort(key=lambda p: (int(p[0].split(".")[1]), PROBE_KINDS.index(p[0].rsplit(".", 1)[-1])))
    model.probe_names = dict(probes)
    return [m for _, m in probes]


def model_kind(spec: ModelSpec, target: str) -> str | None:
    """The core kind (q_proj, ...) of a peft target name given in the checkpoint's naming (e.g. LLaDA's
    'attn_out' -> 'o_proj')."""
    for core, ck in spec.layout.layer_map.items():
        if ck == target or ck.endswith("." + target):
            return core
    return None
