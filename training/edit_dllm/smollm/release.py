"""What the repository commits for the SmolLM2 dLLM, and how a full checkpoint is rebuilt from it.

The base weights come from the installed package (load.convert_gguf); git holds only the small trained
parts (training/smollm-release/ by default):
- `adaptation.safetensors`: the masked-diffusion adaptation's trainable tensors (LoRA A/B on the
  attention + MLP projections, RMSNorm gains, the mask-row offset), stored fp16 (~10 MB);
- `adaptation.json`: its AdaptConfig, the mask id and what the run saw (steps, tokens);
- `sft-adapter/` (peft adapter_config.json + adapter_model.safetensors): the LoRA on q/k/v trained in
  the EDIT SFT; its B outputs are the probes;
- `edit-metadata.safetensors`: the recorder's output for that SFT.

`adapted_checkpoint` merges the adaptation into the base (W += alpha/r B A; norms replaced; row
`mask_id` of the tied embedding += offset) and writes an HF LLaMA checkpoint folder (config.json with
mask_token_id, model.safetensors, tokenizer files) that convert.py and the SFT read.
"""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

ADAPTATION = "adaptation.safetensors"
ADAPTATION_JSON = "adaptation.json"
_PEFT = "peft.base_model.model."


def write_adaptation(state: dict[str, torch.Tensor], info: dict, release_dir: Path) -> Path:
    """Trainable tensors of a MaskedDiffusionLM (names as in its named_parameters) -> fp16 safetensors."""
    release_dir.mkdir(parents=True, exist_ok=True)
    tensors = {k: v.detach().to(torch.float16).contiguous() for k, v in sorted(state.items())}
    save_file(tensors, str(release_dir / ADAPTATION), metadata={"format": "smollm-adaptation/1"})
    (release_dir / ADAPTATION_JSON).write_text(json.dumps(info, indent=2, sort_keys=True) + "\n")
    return release_dir / ADAPTATION


def merged_state(base: dict[str, torch.Tensor], adaptation: dict[str, torch.Tensor], lora_alpha: float,
                 lora_r: int, mask_id: int) -> dict[str, torch.Tensor]:
    """Base HF tensors + adaptation -> merged HF tensors (fp32). Unknown adaptation names are an error."""
    out = {k: v.clone().float() for k, v in base.items()}
    scaling = lora_alpha / lora_r
    pairs: dict[str, dict[str, torch.Tensor]] = {}
    for name, t in adaptation.items():
        t = t.float()
        if name == "mask_delta":
            out["model.embed_tokens.weight"][mask_id] += t
        elif ".lora_A." in name or ".lora_B." in name:
            ab = "A" if ".lora_A." in name else "B"
            module = name.split(".lora_" + ab + ".")[0]
            module = module[len(_PEFT):] if module.startswith(_PEFT) else module
            pairs.setdefault(module, {})[ab] = t
        else:
            key = name[len(_PEFT):] if name.startswith(_PEFT) else name
            if key not in out:
                raise KeyError(f"adaptation tensor {name!r} matches no base weight (looked for {key!r})")
            out[key] = t
    for module, ab in pairs.items():
        key = module + ".base_layer.weight" if module + ".base_layer.weight" in out else module + ".weight"
        if key not in out or set(ab) != {"A", "B"}:
            raise KeyError(f"LoRA pair for {module!r} is incomplete or matches no base weight")
        out[key] = out[key] + scaling * (ab["B"] @ ab["A"])
    return out


def adapted_checkpoint(base_dir: Path, release_dir: Path, out_dir: Path) -> Path:
    """Writes the merged checkpoint folder (idempotent: same inputs give the same tensors)."""
    info = json.loads((release_dir / ADAPTATION_JSON).read_text())
    base = load_file(str(base_dir / "model.safetensors"))
    adaptation = load_file(str(release_dir / ADAPTATION))
    a = info["adapt"]
    merged = merged_state(base, adaptation, a["lora_alpha"], a["lora_r"], info["mask_id"])
    out_dir.mkdir(parents=True, exist_ok=True)
    save_file({k: v.contiguous() for k, v in merged.items()}, str(out_dir / "model.safetensors"),
              metadata={"format": "pt"})
    cfg = json.loads((base_dir / "config.json").read_text())
    cfg["mask_token_id"] = info["mask_id"]
    cfg["is_causal"] = False
    (out_dir / "config.json").write_text(json.dumps(cfg, indent=2, sort_keys=True) + "\n")
    for f in ("tokenizer.json", "tokenizer_config.json", "chat_template.jinja"):
        if (base_dir / f).exists():
            shutil.copyfile(base_dir / f, out_dir / f)
    return out_dir
