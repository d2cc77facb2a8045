"""The micro bundle's PyTorch reference weights, rebuilt from its model.onnx initializers.

micro_bundle.py trains the fixture deterministically, but re-running it on a contended machine was too
slow, so this maps the ONNX initializers back to the peft MaskedDiffusionLM (2D initializers come in
use order: per block q/k/v base^T, lora_A^T, lora_B^T, then o^T, gate^T, up^T, down^T; lm_head^T last)
and checks the rebuilt module against ONNX Runtime (logits and every probe) before saving.
Specific to the micro bundle's shapes (d_model 32, 2 layers, r=4). Run from training/:

    python -m edit_dllm.micro_reference
"""
import os

# ONNX Runtime's telemetry off before it loads, also when this file is run by path (the package's
# __init__ sets it for `python -m`; issue 22).
os.environ.setdefault("ORT_DISABLE_TELEMETRY", "1")
import json, numpy as np, torch, onnx, onnxruntime as ort
from onnx import numpy_helper
torch.set_num_threads(1)
from peft import LoraConfig, get_peft_model
from edit_dllm.model import MaskedDiffusionLM, ModelConfig
from edit_dllm.reference_weights import save_reference_weights, load_reference_model
B = "../test/fixtures/micro-bundle"
m = onnx.load(f"{B}/model.onnx")
named, anon = {}, []
for i in m.graph.initializer:
    a = numpy_helper.to_array(i)
    if i.name.startswith("model."): named[i.name[len("model."):]] = a
    elif a.ndim == 2: anon.append(a)
cfg = ModelConfig(vocab_size=100, mask_id=3, pad_id=2, d_model=32, n_layers=2, n_heads=2, d_ff=64, max_len=128)
torch.manual_seed(0)
pm = get_peft_model(MaskedDiffusionLM(cfg), LoraConfig(r=4, lora_alpha=8, target_modules=["q_proj", "k_proj", "v_proj"], lora_dropout=0.0))
sd = {k: torch.from_numpy(v.copy()) for k, v in named.items()}
it = iter(anon)
nxt = lambda: torch.from_numpy(next(it).T.copy())
for b in range(cfg.n_layers):
    p = f"base_model.model.blocks.{b}."
    for x in ("q", "k", "v"):
        sd[p + f"attn.{x}_proj.base_layer.weight"] = nxt()
        sd[p + f"attn.{x}_proj.lora_A.default.weight"] = nxt()
        sd[p + f"attn.{x}_proj.lora_B.default.weight"] = nxt()
    sd[p + "attn.o_proj.weight"] = nxt()
    for x in ("gate", "up", "down"):
        sd[p + f"{x}.weight"] = nxt()
sd["base_model.model.lm_head.weight"] = nxt()
assert next(it, None) is None
missing, unexpected = pm.load_state_dict(sd, strict=False)
print("missing", missing, "unexpected", unexpected)
pm.eval()
save_reference_weights(pm, B)
rm = load_reference_model(B)
sess = ort.InferenceSession(f"{B}/model.onnx", providers=["CPUExecutionProvider"])
g = torch.Generator().manual_seed(1)
ids = torch.randint(4, 100, (2, 40), generator=g); ids[1, :5] = 2
outs = sess.run(None, {"input_ids": ids.numpy()})
from edit_dllm.sampler import TorchForward
from edit_dllm.speed import probe_paths
from edit_dllm.sampler import Bundle
fwd = TorchForward(rm, probe_paths(rm, Bundle.load(B).probes))
lg, acts = fwd(ids)
print("logits max |torch - onnx|", float(np.abs(outs[0] - lg.numpy()).max()))
names = [o.name for o in sess.get_outputs()]
bj = json.load(open(f"{B}/bundle.json"))
for n, o in zip(names[1:], outs[1:]):
    print(n, float(np.abs(o - acts[bj["probes"][n]].numpy()).max()))
