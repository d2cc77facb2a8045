"""Tiny random-init checkpoints in each family's exact Hugging Face layout, for tests and fixtures.

    build_tiny_checkpoint(family, out_dir, seed=0) -> out_dir
    build_tiny_adapter(ckpt_dir, out_dir, targets=("q_proj", "k_proj", "v_proj"), seed=0) -> out_dir
    python -m edit_dllm.arch.tiny --family llada|dream --out DIR [--adapter DIR]
    python -m edit_dllm.arch.tiny --family llada --out ../test/fixtures/tiny-llada-eos \
        --golden ../test/fixtures/golden/tiny-llada-eos --eos-golden --eos-leaning
    python -m edit_dllm.arch.tiny --family llada --dtype fp16 --out ../test/fixtures/tiny-llada-fp16

Each checkpoint has config.json with the family's real keys, two safetensors shards with the real
tensor names plus model.safetensors.index.json, a byte-level BPE tokenizer.json trained here with
`tokenizers` on a fixed text (offline, deterministic), tokenizer_config.json with a
chat template in the family's style, and generation_config.json. The embedding has more rows than the
tokenizer has ids, as in the released checkpoints (LLaDA pads 126,349 ids to 126,464 rows).
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch

from .core import BidirectionalLM
from .layouts import model_spec, core_param_to_checkpoint

LLADA_SPECIALS = ["<|startoftext|>", "<|endoftext|>", "<|eot_id|>", "<|start_header_id|>", "<|end_header_id|>",
                  "<|mdm_mask|>"]
DREAM_SPECIALS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<|fim_prefix|>", "<|fim_middle|>",
                  "<|fim_suffix|>", "<|mask|>"]
# SDAR (Qwen3 tokenizer + <|MASK|>) and Fast-dLLM v2 (Qwen2.5 tokenizer + |<MASK>|): the mask token names
# of the released tokenizers (SDAR config mask_token_id 151669; Fast-dLLM v2 generate() mask_id 151665).
SDAR_SPECIALS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<|fim_prefix|>", "<|fim_middle|>",
                 "<|fim_suffix|>", "<|MASK|>"]
FAST_DLLM_SPECIALS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<|fim_prefix|>", "<|fim_middle|>",
                      "<|fim_suffix|>", "|<MASK>|"]
SPECIALS = {"llada": LLADA_SPECIALS, "dream": DREAM_SPECIALS, "sdar": SDAR_SPECIALS, "fast-dllm-v2": FAST_DLLM_SPECIALS}
FAMILIES = tuple(SPECIALS)
# Chat templates in the style of each family's tokenizer_config.json (LLaMA-3 headers; Qwen2 ChatML).
LLADA_CHAT = ("{{ bos_token }}{% for message in messages %}<|start_header_id|>{{ message['role'] }}<|end_header_id|>\n\n"
              "{{ message['content'] | trim }}<|eot_id|>{% endfor %}"
              "{% if add_generation_prompt %}<|start_header_id|>assistant<|end_header_id|>\n\n{% endif %}")
DREAM_CHAT = ("{% for message in messages %}{% if loop.first and message['role'] != 'system' %}"
              "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n{% endif %}"
              "<|im_start|>{{ message['role'] }}\n{{ message['content'] }}<|im_end|>\n{% endfor %}"
              "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}")


# Fixed training text (code and prose), so the fixtures' tokenizer is the same on every rebuild.
CORPUS = """def add(a, b):
    return a + b

def generate(model, prompt, steps=32):
    ids = tokenizer.encode(prompt)
    for step in range(steps):
        logits = model(ids)
        ids = commit(ids, logits)
    return tokenizer.decode(ids)

class Block(nn.Module):
    def forward(self, x):
        return x + self.attn(self.norm(x))

Write a haiku about tests. The tests pass when the numbers agree.
A masked diffusion model fills every masked position at once, then keeps the most confident ones.
EDIT stops denoising when the reasoning map says the block has settled.
import torch
import numpy as np
for i in range(10):
    print(i, i * i)
""" * 4


def train_bpe(out_file: Path, specials: list[str], vocab_size: int = 320) -> dict[str, int]:
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=specials, show_progress=False,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tok.train_from_iterator(CORPUS.splitlines(keepends=True), trainer)
    tok.save(str(out_file))
    return {s: tok.token_to_id(s) for s in specials}


def _config(family: str, sp: dict[str, int], rows: int) -> dict:
    if family == "sdar":   # the keys of SDAR-4B-Chat's config.json (JetAstra/SDAR training/model/), tiny sizes
        return {"architectures": ["SDARForCausalLM"], "model_type": "sdar", "attention_bias": False,
                "attention_dropout": 0.0, "bos_token_id": sp["<|endoftext|>"], "eos_token_id": sp["<|endoftext|>"],
                "block_size": 4, "mask_token_id": sp["<|MASK|>"], "fuse_cross_entropy": False, "head_dim": 16,
                "hidden_act": "silu", "hidden_size": 32, "initializer_range": 0.02, "intermediate_size": 64,
                "max_position_embeddings": 512, "max_window_layers": 2, "num_attention_heads": 4,
                "num_hidden_layers": 2, "num_key_value_heads": 2, "rms_norm_eps": 1e-06, "rope_scaling": None,
                "rope_theta": 1000000, "sliding_window": None, "tie_word_embeddings": False, "torch_dtype": "bfloat16",
                "use_cache": False, "use_sliding_window": False, "vocab_size": rows}
    if family == "fast-dllm-v2":   # Fast_dLLM_QwenConfig's keys (a Qwen2 config + bd_size), tied head as the 1.5B
        return {"architectures": ["Fast_dLLM_QwenForCausalLM"], "model_type": "Fast_dLLM_Qwen",
                "attention_dropout": 0.0, "bd_size": 8, "bos_token_id": sp["<|endoftext|>"], "conplemenrary_mask": True,
                "eos_token_id": sp["<|im_end|>"], "pad_token_id": sp["<|im_end|>"],
                "layer_types": ["full_attention", "full_attention"], "hidden_act": "silu", "hidden_size": 32, "initializer_range": 0.02,
                "intermediate_size": 64, "max_position_embeddings": 512, "max_window_layers": 2,
                "num_attention_heads": 4, "num_hidden_layers": 2, "num_key_value_heads": 2, "rms_norm_eps": 1e-06,
                "rope_scaling": None, "rope_theta": 1000000.0, "sliding_window": None, "tie_word_embeddings": True,
                "torch_dtype": "bfloat16", "use_cache": True, "use_sliding_window": False, "vocab_size": rows}
    if family == "llada":
        return {"architectures": ["LLaDAModelLM"], "model_type": "llada", "activation_type": "silu", "alibi": False,
                "alibi_bias_max": 8.0, "attention_dropout": 0.0, "attention_layer_norm": False, "block_group_size": 1,
                "block_type": "llama", "d_model": 32, "embedding_dropout": 0.0, "embedding_size": rows,
                "eos_token_id": sp["<|endoftext|>"], "flash_attention": False, "include_bias": False,
                "include_qkv_bias": False, "init_device": "meta", "init_fn": "mitchell", "init_std": 0.02,
                "input_emb_norm": False, "layer_norm_type": "rms", "layer_norm_with_affine": True,
                "mask_token_id": sp["<|mdm_mask|>"], "max_sequence_length": 256, "mlp_hidden_size": 64, "mlp_ratio": 4,
                "multi_query_attention": None, "n_heads": 4, "n_kv_heads": 4, "n_layers": 2,
                "pad_token_id": sp["<|endoftext|>"], "precision": "amp_bf16", "residual_dropout": 0.0,
                "rms_norm_eps": 1e-05, "rope": True, "rope_full_precision": True, "rope_theta": 500000.0,
                "scale_logits": False, "vocab_size": rows, "weight_tying": False, "torch_dtype": "bfloat16",
                "use_cache": False}
    return {"architectures": ["DreamModel"], "model_type": "Dream", "attention_dropout": 0.0,
            "bos_token_id": sp["<|endoftext|>"], "eos_token_id": sp["<|endoftext|>"], "hidden_act": "silu",
            "hidden_size": 32, "initializer_range": 0.02, "intermediate_size": 64, "mask_token_id": sp["<|mask|>"],
            "max_position_embeddings": 512, "max_window_layers": 28, "num_attention_heads": 4,
            "num_hidden_layers": 2, "num_key_value_heads": 2, "pad_token_id": sp["<|endoftext|>"],
            "rms_norm_eps": 1e-06, "rope_scaling": None, "rope_theta": 1000000.0, "sliding_window": None,
            "tie_word_embeddings": False, "torch_dtype": "bfloat16", "use_cache": False, "use_sliding_window": False,
            "vocab_size": rows}


def build_tiny_checkpoint(family: str, out_dir: str | Path, seed: int = 0, dims: dict | None = None,
                          eos_like: int | None = None) -> Path:
    """`dims` overrides config.json keys (e.g. {"d_model": 256, "n_layers": 4} for a larger LLaDA-layout model).
    `eos_like`: the output head's eos row becomes 1.01x this token's row, so greedy denoising commits eos
    wherever it would commit that token (as an instruct model ends its answer with a run of eos); a random
    head alone almost never ranks eos first."""
    from safetensors.torch import save_file
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    specials = SPECIALS[family]
    sp = train_bpe(out / "tokenizer.json", specials)
    from tokenizers import Tokenizer
    n_ids = max(Tokenizer.from_file(str(out / "tokenizer.json")).get_vocab(with_added_tokens=True).values()) + 1
    rows = (n_ids // 64 + 1) * 64   # more rows than ids, as in the released checkpoints
    cfg = {**_config(family, sp, rows), **(dims or {})}
    (out / "config.json").write_text(json.dumps(cfg, indent=2))
    spec = model_spec(cfg, out / "config.json")
    torch.manual_seed(seed)
    model = BidirectionalLM(spec.core)
    with torch.no_grad():
        for n, p in model.named_parameters():
            if n.endswith("norm.weight"):
                p.copy_(1.0 + 0.1 * torch.randn_like(p))
            else:
                # 0.2 at width 32, scaled as 1/sqrt(width) so larger benchmark models keep O(1) activations
                p.normal_(0.0, 0.5 if n.startswith("embed") else 0.2 * (32 / spec.core.d_model) ** 0.5)
        # Rows past the tokenizer are never trained in released checkpoints: zero here, so the argmax
        # never lands on an id that has no token.
        model.embed.weight[n_ids:] = 0.0
        if model.lm_head is not None:
            model.lm_head.weight[n_ids:] = 0.0
        if eos_like is not None:
            head = model.embed.weight if model.lm_head is None else model.lm_head.weight
            head[cfg["eos_token_id"]] = 1.01 * head[eos_like]
    tensors = {core_param_to_checkpoint(spec.layout, n): t.detach().to(torch.bfloat16).contiguous()
               for n, t in model.state_dict().items()}
    names = sorted(tensors)
    half = len(names) // 2
    shards = {"model-00001-of-00002.safetensors": names[:half], "model-00002-of-00002.safetensors": names[half:]}
    weight_map = {}
    for f, ns in shards.items():
        save_file({n: tensors[n] for n in ns}, str(out / f), metadata={"format": "pt"})
        weight_map.update({n: f for n in ns})
    total = sum(t.numel() * t.element_size() for t in tensors.values())
    (out / "model.safetensors.index.json").write_text(json.dumps({"metadata": {"total_size": total},
                                                                  "weight_map": weight_map}, indent=2))
    if family in ("sdar", "fast-dllm-v2"):
        mask = "<|MASK|>" if family == "sdar" else "|<MASK>|"
        eos = "<|endoftext|>" if family == "sdar" else "<|im_end|>"
        tc = {"bos_token": None, "eos_token": eos, "pad_token": "<|endoftext|>", "mask_token": mask,
              "chat_template": DREAM_CHAT, "model_max_length": 512}
        gc = {"bos_token_id": sp["<|endoftext|>"], "eos_token_id": [sp["<|im_end|>"], sp["<|endoftext|>"]],
              "pad_token_id": sp["<|endoftext|>"]}
    elif family == "llada":
        tc = {"bos_token": "<|startoftext|>", "eos_token": "<|endoftext|>", "pad_token": "<|endoftext|>",
              "chat_template": LLADA_CHAT, "model_max_length": 256}
        gc = {"bos_token_id": sp["<|startoftext|>"], "eos_token_id": sp["<|endoftext|>"], "pad_token_id": sp["<|endoftext|>"]}
    else:
        tc = {"bos_token": None, "eos_token": "<|endoftext|>", "pad_token": "<|endoftext|>", "mask_token": "<|mask|>",
              "chat_template": DREAM_CHAT, "model_max_length": 512}
        gc = {"bos_token_id": sp["<|endoftext|>"], "eos_token_id": sp["<|endoftext|>"], "pad_token_id": sp["<|endoftext|>"],
              "mask_token_id": sp["<|mask|>"]}
    (out / "tokenizer_config.json").write_text(json.dumps(tc, indent=2))
    (out / "generation_config.json").write_text(json.dumps(gc, indent=2))
    return out


def build_tiny_adapter(ckpt_dir: str | Path, out_dir: str | Path, targets: tuple[str, ...] = ("q_proj", "k_proj", "v_proj"),
                       r: int = 4, alpha: float = 8.0, seed: int = 0) -> Path:
    """A peft-format LoRA adapter (adapter_config.json + adapter_model.safetensors, peft's names:
    `base_model.model.<module>.lora_{A,B}.weight`) with random non-zero B (as after training)."""
    from safetensors.torch import save_file
    ckpt, out = Path(ckpt_dir), Path(out_dir)
    cfg = json.loads((ckpt / "config.json").read_text())
    spec = model_spec(cfg, ckpt / "config.json")
    with torch.device("meta"):
        model = BidirectionalLM(spec.core)
    g = torch.Generator().manual_seed(seed)
    tensors = {}
    ck_targets = set()
    for i in range(spec.core.n_layers):
        for kind in targets:
            core = f"layers.{i}.{kind}"
            lin = model.get_submodule(core)
            module = spec.layout.to_checkpoint(core)
            ck_targets.add(module.rsplit(".", 1)[-1])
            a_std = 0.3 * (32 / lin.in_features) ** 0.5   # 0.3 at width 32 (the fixtures), 1/sqrt(width) beyond
            tensors[f"base_model.model.{module}.lora_A.weight"] = torch.randn(r, lin.in_features, generator=g) * a_std
            tensors[f"base_model.model.{module}.lora_B.weight"] = torch.randn(lin.out_features, r, generator=g) * 0.3
    out.mkdir(parents=True, exist_ok=True)
    save_file(tensors, str(out / "adapter_model.safetensors"))
    (out / "adapter_config.json").write_text(json.dumps({
        "peft_type": "LORA", "task_type": None, "r": r, "lora_alpha": alpha, "lora_dropout": 0.0,
        "target_modules": sorted(ck_targets), "bias": "none", "use_rslora": False, "use_dora": False,
        "base_model_name_or_path": str(ckpt)}, indent=2))
    return out


FIXTURE_GENERATION = {"gen_length": 16, "block_length": 8, "steps": 16, "schedule": "uniform"}
FIXTURE_PROMPTS = ["def add(a, b):", "Write a haiku about tests."]
# Variants the fixture's metadata supports (u from the adapter has no Ū_B, which edit-released needs).
FIXTURE_VARIANTS = ("full", "edit", "edit-early-p0", "edit-early-p2", "edit-subspace", "edit-tight")


def write_fixture(family: str, bundle_out: str | Path, golden_out: str | Path) -> list[Path]:
    """A converted tiny bundle (test/fixtures/tiny-<family>) and golden traces of the PyTorch reference
    sampler on the core module (test/fixtures/golden/tiny-<family>) for the TS engine's parity test."""
    import shutil
    import tempfile
    from ..convert import convert
    from ..sampler import Bundle
    from .checkpoint import attach_adapter, load_checkpoint
    bundle_out, golden_out = Path(bundle_out), Path(golden_out)
    tmp = Path(tempfile.mkdtemp(prefix="edit-fixture-"))
    try:
        ckpt = build_tiny_checkpoint(family, tmp / f"tiny-{family}-ckpt")
        lora = build_tiny_adapter(ckpt, tmp / "lora")
        convert(ckpt, bundle_out, adapter=lora, probes="all-qkv", name=f"tiny-{family}",
                generation=FIXTURE_GENERATION, log=lambda s: None)
        model, spec = load_checkpoint(ckpt)
        attach_adapter(model, spec, lora)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return write_golden_traces(Bundle.load(bundle_out), bundle_out.name, model, FIXTURE_PROMPTS, FIXTURE_VARIANTS,
                               golden_out, "chat")


def write_golden_traces(bundle, bundle_name: str, model, prompts: list[str], keep_variants: tuple[str, ...],
                        golden_out: Path, prefix: str) -> list[Path]:
    """`<prefix>-<i>-<variant>.json`: the PyTorch reference sampler's traces (batch 1, task chat) of each
    prompt under each golden variant in keep_variants, for the TS golden test (test/engine/golden.test.ts)."""
    from ..golden import variants
    from ..sampler import public_trace
    golden_out.mkdir(parents=True, exist_ok=True)
    written = []
    for variant, rule, params in variants(bundle, "chat"):
        if variant not in keep_variants:
            continue
        traces = bundle.run(model.full, "chat", prompts, rule, params, batch_size=1, provider="pytorch")
        for i, (prompt, tr) in enumerate(zip(prompts, traces)):
            doc = {"format": "edit-golden/1", "bundleDir": bundle_name, "task": "chat", "prompt": prompt,
                   "variant": variant, "rule": rule, "params": params, "trace": public_trace(tr, zero_timings=True)}
            path = golden_out / f"{prefix}-{i}-{variant}.json"
            path.write_text(json.dumps(doc, indent=1) + "\n")
            written.append(path)
    return written


# Prompts for the eos fixtures: eos inside the prompt (a plain token there, with its own position), and
# prompts after which the eos-leaning model commits eos mid-block.
EOS_PROMPTS = ["x<|endoftext|>y", "def add(a, b):<|endoftext|>return a + b", "def add(a, b):", "print(i)"]
EOS_VARIANTS = ("full", "edit", "edit-early-p2")


def write_eos_fixture(family: str, bundle_out: str | Path, golden_out: str | Path, eos_leaning: bool) -> list[Path]:
    """Golden traces `eos-<i>-<variant>.json` with eos inside the sequence. eos_leaning=False: on the
    committed tiny-<family> bundle (rebuilt from the same seed; checked against its model.onnx);
    eos_leaning=True: converts the tiny-<family>-eos bundle first (next to tiny-<family>), its head's eos
    row copied from the token the model commits most (build_tiny_checkpoint eos_like): eos mid-block."""
    import shutil
    import tempfile
    from ..convert import convert
    from ..export import OnnxForward
    from ..sampler import Bundle
    from .checkpoint import attach_adapter, load_checkpoint
    bundle_out, golden_out = Path(bundle_out), Path(golden_out)
    tmp = Path(tempfile.mkdtemp(prefix="edit-fixture-"))
    try:
        ckpt = build_tiny_checkpoint(family, tmp / f"tiny-{family}-ckpt")
        lora = build_tiny_adapter(ckpt, tmp / "lora")
        if eos_leaning:
            # The token the adapted model commits most at the first fixture prompt's masked positions.
            model, spec = load_checkpoint(ckpt)
            attach_adapter(model, spec, lora)
            ref = Bundle.load(bundle_out.parent / f"tiny-{family}")
            ids = torch.tensor([ref.encode_prompt("chat", FIXTURE_PROMPTS[0]) + [ref.ids["mask"]] * 16])
            top = int(torch.mode(model.full(ids)[0][0, -16:].argmax(-1)).values)
            ckpt = build_tiny_checkpoint(family, tmp / f"tiny-{family}-ckpt", eos_like=top)
            convert(ckpt, bundle_out, adapter=lora, probes="all-qkv", name=bundle_out.name,
                    generation=FIXTURE_GENERATION, log=lambda s: None)
        model, spec = load_checkpoint(ckpt)
        attach_adapter(model, spec, lora)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    bundle = Bundle.load(bundle_out)
    onnx = OnnxForward(bundle_out / "model.onnx")
    # Without the lean, only the prompts that contain eos add anything to the existing fixtures.
    prompts = EOS_PROMPTS if eos_leaning else [p for p in EOS_PROMPTS if "<|endoftext|>" in p]
    for p in prompts:  # the rebuilt weights are the bundle's (plain positions, batch 1)
        ids = torch.tensor([bundle.encode_prompt("chat", p) + [bundle.ids["mask"]] * 16])
        diff = float((model.full(ids)[0] - onnx(ids)[0]).abs().max())
        if diff > 1e-4:
            raise RuntimeError(f"{bundle_out}: rebuilt checkpoint differs from model.onnx by {diff:.3g} on {p!r}")
    return write_golden_traces(bundle, bundle_out.name, model, prompts, EOS_VARIANTS, golden_out, "eos")


def write_dtype_fixture(family: str, dtype: str, bundle_out: str | Path) -> Path:
    """tiny-<family>-<dtype> (fp16 / int4: float16 K/V at the graph boundary) for the engine's dtype tests;
    the same weights as tiny-<family>. Random weights: no int4 top-1 check (it measures trained models)."""
    import shutil
    import tempfile
    from ..convert import convert
    tmp = Path(tempfile.mkdtemp(prefix="edit-fixture-"))
    try:
        ckpt = build_tiny_checkpoint(family, tmp / f"tiny-{family}-ckpt")
        lora = build_tiny_adapter(ckpt, tmp / "lora")
        convert(ckpt, bundle_out, adapter=lora, probes="all-qkv", name=Path(bundle_out).name, dtype=dtype,
                generation=FIXTURE_GENERATION, min_top1=None, log=lambda s: None)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return Path(bundle_out)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--family", choices=FAMILIES, required=True)
    ap.add_argument("--out", required=True, help="checkpoint directory, or with --golden the fixture bundle")
    ap.add_argument("--adapter", help="also write a tiny q/k/v LoRA adapter here")
    ap.add_argument("--golden", help="write a converted fixture bundle to --out and golden traces here")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--eos-golden", action="store_true",
                    help="with --golden: write only the eos-<i>-*.json traces (on --out, or with --eos-leaning "
                         "converting --out first from the eos-leaning checkpoint)")
    ap.add_argument("--eos-leaning", action="store_true")
    ap.add_argument("--dtype", choices=("fp16", "int4"), help="write the fixture bundle tiny-<family>-<dtype> to --out")
    a = ap.parse_args()
    torch.set_num_threads(1)
    if a.dtype:
        print(f"wrote {write_dtype_fixture(a.family, a.dtype, a.out)}")
        return
    if a.golden and a.eos_golden:
        n = len(write_eos_fixture(a.family, a.out, a.golden, a.eos_leaning))
        print(f"wrote {n} eos golden traces to {a.golden}")
        return
    if a.golden:
        print(f"wrote {len(write_fixture(a.family, a.out, a.golden))} golden traces to {a.golden}")
        return
    build_tiny_checkpoint(a.family, a.out, a.seed)
    if a.adapter:
        build_tiny_adapter(a.out, a.adapter, seed=a.seed)


if __name__ == "__main__":
    main()
