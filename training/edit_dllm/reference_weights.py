"""PyTorch weights of a bundle's model, for the reference sampler's speed comparison (`edit-dllm bench`).

A bundle ships only model.onnx; the PyTorch reference sampler needs the torch module. We store it
next to the bundle's 4 files:

    <bundle>/reference/model.safetensors   the module's state_dict (LoRA kept as separate A/B weights)
    <bundle>/reference/config.json         {"format": "edit-reference/1", "model": ModelConfig,
                                            "lora": {r, lora_alpha, target_modules, lora_dropout} | null}

LoRA is NOT merged: the EDIT rules read the LoRA-B outputs (Eq 5's f_s) as activations, so the torch
forward must keep the LoRA branch, exactly as the ONNX graph does (export.py). The engine is not a
bundle file; the TS engine never reads reference/.
"""
from __future__ import annotations

import json
from pathlib import Path

import torch
import torch.nn as nn

from .model import MaskedDiffusionLM, ModelConfig

REFERENCE_FORMAT = "edit-reference/1"
REFERENCE_DIR = "reference"


class ReferenceWeightsError(FileNotFoundError):
    """The bundle has no (or unreadable) reference/ weights; the message says how to make them."""


def _base_and_lora(model: nn.Module) -> tuple[MaskedDiffusionLM, dict | None]:
    peft_config = getattr(model, "peft_config", None)
    base = model.get_base_model() if peft_config else model
    if not isinstance(base, MaskedDiffusionLM):
        raise TypeError(f"save_reference_weights needs a MaskedDiffusionLM (optionally peft-wrapped), got {type(base).__name__}")
    if not peft_config:
        return base, None
    if len(peft_config) != 1:
        raise ValueError(f"expected one LoRA adapter, found {sorted(peft_config)}")
    name, lc = next(iter(peft_config.items()))
    lora = {"adapter": name, "r": int(lc.r), "lora_alpha": float(lc.lora_alpha),
            "target_modules": sorted(lc.target_modules), "lora_dropout": float(lc.lora_dropout)}
    return base, lora


def save_reference_weights(model: nn.Module, bundle_dir: str | Path) -> Path:
    """Write <bundle>/reference/{model.safetensors, config.json} for a (peft-LoRA) MaskedDiffusionLM."""
    from safetensors.torch import save_file
    base, lora = _base_and_lora(model)
    out = Path(bundle_dir) / REFERENCE_DIR
    out.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().to("cpu").contiguous().clone() for k, v in model.state_dict().items()}
    save_file(state, str(out / "model.safetensors"), metadata={"format": REFERENCE_FORMAT})
    cfg = {"format": REFERENCE_FORMAT, "model": base.cfg.to_dict(), "lora": lora, "lora_merged": False}
    (out / "config.json").write_text(json.dumps(cfg, indent=1) + "\n")
    return out


def load_reference_model(bundle_dir: str | Path) -> nn.Module:
    """Rebuild the torch module saved by save_reference_weights (eval mode, float32, CPU)."""
    from safetensors.torch import load_file
    d = Path(bundle_dir) / REFERENCE_DIR
    cfg_path, weights = d / "config.json", d / "model.safetensors"
    if not cfg_path.exists() or not weights.exists():
        raise ReferenceWeightsError(
            f"{d} has no config.json + model.safetensors: the bundle ships only ONNX. Write them with "
            f"edit_dllm.reference_weights.save_reference_weights(model, '{bundle_dir}') when building the bundle")
    cfg = json.loads(cfg_path.read_text())
    if cfg.get("format") != REFERENCE_FORMAT:
        raise ReferenceWeightsError(f"{cfg_path}: format must be {REFERENCE_FORMAT!r}, got {cfg.get('format')!r}")
    model: nn.Module = MaskedDiffusionLM(ModelConfig(**cfg["model"]))
    lora = cfg.get("lora")
    if lora:
        from peft import LoraConfig, get_peft_model
        model = get_peft_model(model, LoraConfig(r=lora["r"], lora_alpha=lora["lora_alpha"],
                                                 target_modules=lora["target_modules"],
                                                 lora_dropout=lora["lora_dropout"]),
                               adapter_name=lora.get("adapter", "default"))
    missing, unexpected = model.load_state_dict(load_file(str(weights)), strict=False)
    if missing or unexpected:
        raise ReferenceWeightsError(f"{weights}: state_dict does not match config.json "
                                    f"(missing {missing[:5]}, unexpected {unexpected[:5]})")
    return model.eval()
