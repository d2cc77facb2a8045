"""One LLaMA-family transformer for every converted dLLM (LLaDA, Dream family, LLaMA/SmolLM2, SDAR, Fast-dLLM v2).

Written from the architectures' published descriptions (LLaDA: arXiv 2502.09992 §2 and its
modeling_llada.py; Dream: arXiv 2508.15487 and modeling_dream.py, a Qwen2 body): pre-norm blocks of
RMSNorm -> attention (rotary, grouped-query; no mask, or the block-causal one) -> residual, RMSNorm -> SwiGLU MLP ->
residual; a final RMSNorm and an untied or tied output head. Only what differs between the families is
a parameter (CoreConfig): q/k/v bias, other-linear bias, tied head, rotary theta, the logit shift, q/k
norms (Qwen3), the attention mode and its block size.

Forward signature (the cache graph of docs/kv-cache.md, shared with onnx_cache_export.py):

    forward(input_ids [B, q], position_ids [B, q], past: list[(k, v)] per layer, each [B, kvh, p, hd],
            want LongTensor[2]) -> (logits [B, w1-w0, V], probes {module: [B, w1-w0, d_out]},
                                    presents: list[(k, v)] per layer, each [B, kvh, q, hd])

K is cached with rotary applied. With `attention = "bidirectional"` (LLaDA, Dream) there is no mask, so the
order of the cached positions is irrelevant. With `attention = "block-causal"` (SDAR, Fast-dLLM v2) query
position i reads key j iff block(j) <= block(i), block = absolute position // block_size, and every past
key is readable: the caller caches only whole blocks that precede the query (then the cached K/V are
exact, docs/kv-cache.md). With `shift` (Dream family, Fast-dLLM v2) the logits row of query position j
comes from the hidden state of j - 1 (row 0 from its own, as Dream's sampler and Fast-dLLM v2's generate
do: cat([logits[:, :1], logits[:, :-1]])). With `qk_norm` (Qwen3 / SDAR) each head's q and k pass an
RMSNorm of width head_dim before rotary.

Module names are the core's own (`layers.{i}.q_proj`, ...); arch/layouts.py maps each checkpoint
layout's names onto them and back, so probe names in a bundle are the checkpoint's names.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F

PROBE_KINDS = ("q_proj", "k_proj", "v_proj")


@dataclass(frozen=True)
class CoreConfig:
    vocab_size: int          # embedding rows = logits width
    d_model: int
    n_layers: int
    n_heads: int
    n_kv_heads: int
    head_dim: int
    d_ff: int
    rope_theta: float
    rms_eps: float
    qkv_bias: bool = False   # Qwen2 / Dream: True
    bias: bool = False       # bias on o_proj and the MLP (LLaDA include_bias; False in every released model)
    tied_head: bool = False  # head = embedding matrix (LLaDA weight_tying, HF tie_word_embeddings)
    shift: bool = False      # hidden i-1 predicts token i (Dream family, Fast-dLLM v2)
    qk_norm: bool = False    # RMSNorm over each head's q and k before rotary (Qwen3 / SDAR)
    # "bidirectional" (LLaDA, Dream) or "block-causal" (SDAR, Fast-dLLM v2): position i attends to j iff
    # j // block_size <= i // block_size, i.e. causal across blocks, bidirectional inside a block.
    attention: str = "bidirectional"
    block_size: int = 0      # the block-causal block (SDAR config block_size, Fast-dLLM v2 bd_size)

    def __post_init__(self) -> None:
        if self.attention not in ("bidirectional", "block-causal"):
            raise ValueError(f"attention must be 'bidirectional' or 'block-causal', got {self.attention!r}")
        if self.attention == "block-causal" and self.block_size < 1:
            raise ValueError(f"block-causal attention needs block_size >= 1, got {self.block_size}")
        if self.n_heads % self.n_kv_heads:
            raise ValueError(f"n_heads ({self.n_heads}) must be a multiple of n_kv_heads ({self.n_kv_heads})")
        if self.head_dim % 2:
            raise ValueError(f"head_dim must be even for rotary embeddings, got {self.head_dim}")

    def to_dict(self) -> dict:
        return asdict(self)


class RMSNorm(nn.Module):
    """x / rms(x) * w, computed in float32 (LLaDA and Qwen2 both upcast)."""

    def __init__(self, d: int, eps: float) -> None:
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(d))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        xf = x.float()
        xf = xf * torch.rsqrt(xf.pow(2).mean(-1, keepdim=True) + self.eps)
        return self.weight * xf.to(x.dtype)


class LoraLinear(nn.Linear):
    """nn.Linear with an optional LoRA branch kept apart from the base weight, so its B output (the
    EDIT probe f_s of Eq 5, before the alpha/r scaling) is observable. `last_lora_b` holds it."""

    def __init__(self, d_in: int, d_out: int, bias: bool) -> None:
        super().__init__(d_in, d_out, bias=bias)
        self.lora_A: nn.Parameter | None = None
        self.lora_B: nn.Parameter | None = None
        self.lora_scaling = 1.0
        self.last_lora_b: torch.Tensor | None = None

    def set_lora(self, A: torch.Tensor, B: torch.Tensor, scaling: float) -> None:
        if A.shape != (A.shape[0], self.in_features) or B.shape != (self.out_features, A.shape[0]):
            raise ValueError(f"LoRA shapes A {tuple(A.shape)} / B {tuple(B.shape)} do not fit a "
                             f"{self.in_features} -> {self.out_features} linear (expected A [r, {self.in_features}], "
                             f"B [{self.out_features}, r])")
        self.lora_A = nn.Parameter(A.to(self.weight.dtype), requires_grad=False)
        self.lora_B = nn.Parameter(B.to(self.weight.dtype), requires_grad=False)
        self.lora_scaling = float(scaling)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = F.linear(x, self.weight, self.bias)
        if self.lora_A is None:
            self.last_lora_b = None
            return y
        b_out = F.linear(F.linear(x, self.lora_A), self.lora_B)
        self.last_lora_b = b_out
        return y + self.lora_scaling * b_out


def rotary_cos_sin(position_ids: torch.Tensor, head_dim: int, theta: float) -> tuple[torch.Tensor, torch.Tensor]:
    """cos/sin [B, 1, q, hd] for absolute positions (the half-split layout of LLaMA/LLaDA/Qwen2:
    frequency i pairs dims i and i + hd/2)."""
    inv_freq = 1.0 / (theta ** (torch.arange(0, head_dim, 2, dtype=torch.float32) / head_dim))
    freqs = position_ids.to(torch.float32)[..., None] * inv_freq  # [B, q, hd/2]
    emb = torch.cat((freqs, freqs), dim=-1)[:, None]               # [B, 1, q, hd]
    return emb.cos(), emb.sin()


def block_causal_allowed(position_ids: torch.Tensor, past_k: torch.Tensor, block_size: int) -> torch.Tensor:
    """[B, q, p + q] bool: query i may read key j. Past keys are always readable: the engine caches only
    whole blocks before the query's first block (docs/kv-cache.md), so their block is < every query's.
    Among the query: key block <= query block (SDAR generate.py's tril over blocks repeated block_size
    times; Fast-dLLM v2 eval_block_diff_mask: q_idx // bs >= kv_idx // bs on absolute positions)."""
    qb = torch.div(position_ids, block_size, rounding_mode="floor")                  # [B, q]
    past_b = torch.full_like(past_k[:, 0, :, 0], -1.0).to(qb.dtype)                  # [B, p]: always visible
    kb = torch.cat((past_b, qb), dim=1)                                              # [B, p + q]
    return kb[:, None, :] <= qb[:, :, None]


class FusedMHA(torch.autograd.Function):
    """Bidirectional attention over full K/V that the TorchScript exporter writes as ONE contrib node,
    com.microsoft MultiHeadAttention (ORT ContribOperators.md: query [B, S, N*H]; key/value in BNSH
    [B, N, T, H], the form it takes without past_key; unidirectional=0, no mask), in place of
    MatMul/Softmax/MatMul and the head transposes. Eager calls compute the same math as Block's unfused
    path. Only used when a Block has `fused_mha` set: measured by arch/attention_fusion_bench.py and not
    shipped (bit-identical and no faster on the CPU provider; docs/bench.md "Fused attention")."""

    @staticmethod
    def forward(ctx, q, keys, values, n_heads: int, scale: float):  # q [B, S, N*H], keys/values [B, N, T, H]
        b, s, _ = q.shape
        qh = q.view(b, s, n_heads, -1).transpose(1, 2)
        p = torch.softmax((qh @ keys.transpose(-1, -2) * scale).float(), dim=-1).to(values.dtype)
        return (p @ values).transpose(1, 2).reshape(b, s, -1)

    @staticmethod
    def symbolic(g, q, keys, values, n_heads: int, scale: float):
        out = g.op("com.microsoft::MultiHeadAttention", q, keys, values, num_heads_i=n_heads, scale_f=scale)
        out.setType(q.type())
        return out


def attend(qh: torch.Tensor, keys: torch.Tensor, values: torch.Tensor, allowed: torch.Tensor | None, *, batch,
           length, heads: int, head_dim: int, fused: bool = False) -> torch.Tensor:
    """softmax(q k^T / sqrt(hd)) v over [B, N, S, hd] queries and [B, N, T, hd] keys/values (K/V heads already
    repeated for GQA) -> [B, S, N * hd]. `batch`/`length` are the caller's (traced) sizes and heads/head_dim
    the config's ints, so the tracer records no extra Shape/Gather ops. `fused` (bidirectional only) exports
    one MultiHeadAttention node (FusedMHA)."""
    scale = 1.0 / math.sqrt(head_dim)
    if fused and allowed is None:
        return FusedMHA.apply(qh.transpose(1, 2).reshape(batch, length, heads * head_dim), keys, values, heads, scale)
    # Written out (not SDPA) so the ONNX graph is plain MatMul/Softmax on every provider.
    scores = ((qh @ keys.transpose(-1, -2)) * scale).float()
    if allowed is not None:  # block-causal: every row allows at least its own position, so no row is all -inf
        scores = scores.masked_fill(~allowed[:, None], float("-inf"))
    return (torch.softmax(scores, dim=-1).to(values.dtype) @ values).transpose(1, 2).reshape(batch, length, heads * head_dim)


def rotate_half(x: torch.Tensor) -> torch.Tensor:
    half = x.shape[-1] // 2
    return torch.cat((-x[..., half:], x[..., :half]), dim=-1)


def apply_rotary(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    return (x.float() * cos + rotate_half(x.float()) * sin).to(x.dtype)


class Block(nn.Module):
    def __init__(self, c: CoreConfig) -> None:
        super().__init__()
        self.c = c
        self.fused_mha = False  # export attention as com.microsoft MultiHeadAttention (FusedMHA; off in bundles)
        q_dim, kv_dim = c.n_heads * c.head_dim, c.n_kv_heads * c.head_dim
        self.attn_norm = RMSNorm(c.d_model, c.rms_eps)
        self.q_proj = LoraLinear(c.d_model, q_dim, c.qkv_bias)
        self.k_proj = LoraLinear(c.d_model, kv_dim, c.qkv_bias)
        self.v_proj = LoraLinear(c.d_model, kv_dim, c.qkv_bias)
        self.o_proj = LoraLinear(q_dim, c.d_model, c.bias)
        self.mlp_norm = RMSNorm(c.d_model, c.rms_eps)
        self.gate_proj = LoraLinear(c.d_model, c.d_ff, c.bias)
        self.up_proj = LoraLinear(c.d_model, c.d_ff, c.bias)
        self.down_proj = LoraLinear(c.d_ff, c.d_model, c.bias)
        if c.qk_norm:  # Qwen3: one RMSNorm of width head_dim shared by all heads, before rotary
            self.q_norm = RMSNorm(c.head_dim, c.rms_eps)
            self.k_norm = RMSNorm(c.head_dim, c.rms_eps)

    def forward(self, x, cos, sin, past_k, past_v, allowed=None):
        c = self.c
        b, q, _ = x.shape
        h = self.attn_norm(x)
        qh = self.q_proj(h).view(b, q, c.n_heads, c.head_dim)
        kh = self.k_proj(h).view(b, q, c.n_kv_heads, c.head_dim)
        if c.qk_norm:
            qh, kh = self.q_norm(qh), self.k_norm(kh)
        qh, kh = qh.transpose(1, 2), kh.transpose(1, 2)
        vh = self.v_proj(h).view(b, q, c.n_kv_heads, c.head_dim).transpose(1, 2)
        qh, kh = apply_rotary(qh, cos, sin), apply_rotary(kh, cos, sin)
        keys = torch.cat((past_k, kh), dim=2)
        values = torch.cat((past_v, vh), dim=2)
        rep = c.n_heads // c.n_kv_heads
        if rep > 1:  # query head j reads kv head j // rep (HF repeat_kv, LLaDA repeat_interleave)
            keys = keys.repeat_interleave(rep, dim=1)
            values = values.repeat_interleave(rep, dim=1)
        attn = attend(qh, keys, values, allowed, batch=b, length=q, heads=c.n_heads, head_dim=c.head_dim,
                      fused=self.fused_mha)
        x = x + self.o_proj(attn)
        h = self.mlp_norm(x)
        x = x + self.down_proj(F.silu(self.gate_proj(h)) * self.up_proj(h))
        return x, (kh, vh)


class BidirectionalLM(nn.Module):
    """The core model (see the module docstring for the forward signature)."""

    def __init__(self, c: CoreConfig) -> None:
        super().__init__()
        self.config = c
        self.embed = nn.Embedding(c.vocab_size, c.d_model)
        self.layers = nn.ModuleList(Block(c) for _ in range(c.n_layers))
        self.norm = RMSNorm(c.d_model, c.rms_eps)
        self.lm_head = None if c.tied_head else nn.Linear(c.d_model, c.vocab_size, bias=False)
        # core module name -> probe name (the checkpoint's module name); set by layouts.attach_lora.
        self.probe_names: dict[str, str] = {}

    def empty_past(self, batch: int = 1, dtype: torch.dtype = torch.float32) -> list[tuple[torch.Tensor, torch.Tensor]]:
        c = self.config
        dt = dtype
        z = torch.zeros(batch, c.n_kv_heads, 0, c.head_dim, dtype=dt)
        return [(z, z) for _ in range(c.n_layers)]

    def head(self, h: torch.Tensor) -> torch.Tensor:
        w = self.embed.weight if self.lm_head is None else self.lm_head.weight
        if self.lm_head is not None:
            return F.linear(h, w)
        # Tied head: a 2-D linear with a bias exports as Gemm(transB=1) reading the embedding itself; any other
        # form exports MatMul with a constant-folded transposed copy, storing the embedding twice (SDAR-1.7B:
        # +1.24 GB fp32). The zero bias adds nothing to the logits.
        zero = torch.zeros(w.shape[0], dtype=h.dtype, device=h.device)
        return F.linear(h.reshape(-1, h.shape[-1]), w, zero).reshape(*h.shape[:-1], w.shape[0])

    def forward(self, input_ids: torch.Tensor, position_ids: torch.Tensor,
                past: list[tuple[torch.Tensor, torch.Tensor]], want: torch.Tensor):
        c = self.config
        x = self.embed(input_ids)
        # The K/V at the graph boundary keep the dtype of `past` (the exporter's example decides it): fp16
        # and int4 bundles take and return fp16 K/V (half the cache bytes), fp32/int8 float32. Inside,
        # K/V are computed in the weights' dtype; the casts are no-ops where the two agree.
        cos, sin = rotary_cos_sin(position_ids, c.head_dim, c.rope_theta)
        allowed = (block_causal_allowed(position_ids, past[0][0], c.block_size)
                   if c.attention == "block-causal" else None)
        presents = []
        for layer, (pk, pv) in zip(self.layers, past):
            kv_dtype = pk.dtype
            x, kv = layer(x, cos, sin, pk.to(x.dtype), pv.to(x.dtype), allowed)
            presents.append((kv[0].to(kv_dtype), kv[1].to(kv_dtype)))
        x = self.norm(x)
        w0, w1 = want[0], want[1]
        rows = torch.arange(x.shape[1], device=x.device)
        keep = (rows >= w0) & (rows < w1)
        idx = rows[keep]                       # the wanted query rows, in order
        src = (idx - 1).clamp(min=0) if c.shift else idx
        logits = self.head(x.index_select(1, src)).float()
        probes = {}
        for core_name, probe_name in self.probe_names.items():
            mod = self.get_submodule(core_name)
            probes[probe_name] = mod.last_lora_b.index_select(1, idx).float()
        return logits, probes, presents

    @torch.no_grad()
    def full(self, input_ids: torch.Tensor) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """All rows, no cache: the reference sampler's Forward (ids [B, S] -> logits, {probe: act})."""
        b, s = input_ids.shape
        pos = torch.arange(s, dtype=torch.long)[None].expand(b, s)
        logits, probes, _ = self(input_ids, pos, self.empty_past(b), torch.tensor([0, s]))
        return logits, probes
