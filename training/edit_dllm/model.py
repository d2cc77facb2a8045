"""A small LLaDA-style masked-diffusion transformer.

Bidirectional attention, a mask token, RMSNorm + SwiGLU (as LLaDA). Padding is handled inside the
model from `input_ids` alone (keys equal to pad_id are masked out and positions count only non-pad
tokens), so a left-padded batch gives the same outputs as one sequence at a time, and the ONNX
graph needs a single input (`input_ids`), as the bundle contract asks.

Positions: `learned` absolute embeddings (the first shipped model) or `rope` (rotary, as LLaDA).
With learned absolute positions a fixed-offset rule ("add the digits 5 and 10 to the left") has to
be learned again at every absolute position; rotary attention scores depend only on the offset, so
one circuit serves every step of a worked solution and every prompt length.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F


POSITIONS = ("learned", "rope")


@dataclass
class ModelConfig:
    vocab_size: int
    mask_id: int
    pad_id: int
    d_model: int = 160
    n_layers: int = 4
    n_heads: int = 4
    d_ff: int = 432
    max_len: int = 192
    positions: str = "learned"   # "learned" | "rope"
    rope_base: float = 10000.0

    def __post_init__(self) -> None:
        if self.positions not in POSITIONS:
            raise ValueError(f"positions must be 'learned' or 'rope', got {self.positions!r}")

    def to_dict(self) -> dict:
        return asdict(self)


class RMSNorm(nn.Module):
    def __init__(self, d: int, eps: float = 1e-5) -> None:
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(d))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps) * self.weight


class Attention(nn.Module):
    """Q/K/V are separate nn.Linear modules named q_proj/k_proj/v_proj so peft's LoRA can target them."""

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        d = cfg.d_model
        self.n_heads = cfg.n_heads
        self.q_proj = nn.Linear(d, d, bias=False)
        self.k_proj = nn.Linear(d, d, bias=False)
        self.v_proj = nn.Linear(d, d, bias=False)
        self.o_proj = nn.Linear(d, d, bias=False)

    def forward(self, x: torch.Tensor, key_bias: torch.Tensor,
                rot: tuple[torch.Tensor, torch.Tensor] | None = None) -> torch.Tensor:
        b, s, d = x.shape
        h = self.n_heads
        hd = d // h
        # The LoRA probes read q/k_proj's LoRA-B output, i.e. before the rotation below.
        q = self.q_proj(x).view(b, s, h, hd).transpose(1, 2)
        k = self.k_proj(x).view(b, s, h, hd).transpose(1, 2)
        v = self.v_proj(x).view(b, s, h, hd).transpose(1, 2)
        if rot is not None:
            q, k = rotate(q, *rot), rotate(k, *rot)
        return self._attend(q, k, v, key_bias)

    def _attend(self, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, key_bias: torch.Tensor) -> torch.Tensor:
        b, h, s, hd = q.shape
        # Written out (not F.scaled_dot_product_attention) so the ONNX graph is plain MatMul/Softmax.
        scores = torch.matmul(q, k.transpose(-1, -2)) / math.sqrt(hd) + key_bias
        out = torch.matmul(torch.softmax(scores, dim=-1), v)
        return self.o_proj(out.transpose(1, 2).reshape(b, s, h * hd))

    def forward_cache(self, x: torch.Tensor, key_bias: torch.Tensor, rot: tuple[torch.Tensor, torch.Tensor] | None,
                      past_k: torch.Tensor, past_v: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Query rows x attend to the cached keys/values and to their own; returns (out, k, v) of the query
        rows, k rotated (what a cache stores). key_bias covers [past keys, query keys]."""
        b, s, d = x.shape
        h = self.n_heads
        hd = d // h
        q = self.q_proj(x).view(b, s, h, hd).transpose(1, 2)
        k = self.k_proj(x).view(b, s, h, hd).transpose(1, 2)
        v = self.v_proj(x).view(b, s, h, hd).transpose(1, 2)
        if rot is not None:
            q, k = rotate(q, *rot), rotate(k, *rot)
        out = self._attend(q, torch.cat((past_k, k), dim=2), torch.cat((past_v, v), dim=2), key_bias)
        return out, k, v


def rotary_tables(pos: torch.Tensor, head_dim: int, base: float) -> tuple[torch.Tensor, torch.Tensor]:
    """cos/sin [B, 1, S, head_dim/2] for integer positions [B, S] (RoPE, half-split layout)."""
    inv_freq = base ** (-torch.arange(0, head_dim, 2, dtype=torch.float32) / head_dim)
    ang = pos.to(torch.float32)[:, None, :, None] * inv_freq
    return torch.cos(ang), torch.sin(ang)


def rotate(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """Rotate pairs (x_i, x_{i+hd/2}) by the position's angle; x is [B, H, S, hd]."""
    half = x.shape[-1] // 2
    x1, x2 = x[..., :half], x[..., half:]
    return torch.cat([x1 * cos - x2 * sin, x1 * sin + x2 * cos], dim=-1)


def want_rows(q_len: int, want: torch.Tensor) -> torch.Tensor:
    """Query row indices [w0, w1) as a LongTensor (a mask over arange, which exports without
    data-dependent slicing bounds)."""
    rows = torch.arange(q_len, device=want.device)
    return rows[(rows >= want[0]) & (rows < want[1])]


class Block(nn.Module):
    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.attn_norm = RMSNorm(cfg.d_model)
        self.attn = Attention(cfg)
        self.mlp_norm = RMSNorm(cfg.d_model)
        self.gate = nn.Linear(cfg.d_model, cfg.d_ff, bias=False)
        self.up = nn.Linear(cfg.d_model, cfg.d_ff, bias=False)
        self.down = nn.Linear(cfg.d_ff, cfg.d_model, bias=False)

    def forward(self, x: torch.Tensor, key_bias: torch.Tensor,
                rot: tuple[torch.Tensor, torch.Tensor] | None = None) -> torch.Tensor:
        x = x + self.attn(self.attn_norm(x), key_bias, rot)
        return self._mlp(x)

    def _mlp(self, x: torch.Tensor) -> torch.Tensor:
        h = self.mlp_norm(x)
        return x + self.down(F.silu(self.gate(h)) * self.up(h))

    def forward_cache(self, x: torch.Tensor, key_bias: torch.Tensor, rot: tuple[torch.Tensor, torch.Tensor] | None,
                      past_k: torch.Tensor, past_v: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        out, k, v = self.attn.forward_cache(self.attn_norm(x), key_bias, rot, past_k, past_v)
        return self._mlp(x + out), k, v


class MaskedDiffusionLM(nn.Module):
    """forward(input_ids int64 [B, S]) -> logits float32 [B, S, vocab]."""

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.tok_emb = nn.Embedding(cfg.vocab_size, cfg.d_model)
        if cfg.positions == "learned":
            self.pos_emb = nn.Embedding(cfg.max_len, cfg.d_model)
        self.blocks = nn.ModuleList([Block(cfg) for _ in range(cfg.n_layers)])
        self.norm = RMSNorm(cfg.d_model)
        self.lm_head = nn.Linear(cfg.d_model, cfg.vocab_size, bias=False)
        self.apply(self._init)

    @staticmethod
    def _init(m: nn.Module) -> None:
        if isinstance(m, (nn.Linear, nn.Embedding)):
            nn.init.normal_(m.weight, std=0.02)

    def forward(self, input_ids: torch.Tensor) -> torch.Tensor:
        keep = input_ids != self.cfg.pad_id
        # Positions count only real tokens, so left padding does not shift them.
        pos = (torch.cumsum(keep.to(torch.int64), dim=1) - 1).clamp(min=0)
        x = self.tok_emb(input_ids)
        rot = None
        if self.cfg.positions == "learned":
            x = x + self.pos_emb(pos)
        else:
            rot = rotary_tables(pos, self.cfg.d_model // self.cfg.n_heads, self.cfg.rope_base)
        # Additive key mask [B, 1, 1, S]: pad keys get a large negative bias (finite, so no NaN).
        key_bias = (~keep).to(x.dtype)[:, None, None, :] * -1e9
        for blk in self.blocks:
            x = blk(x, key_bias, rot)
        return self.lm_head(self.norm(x))

    def forward_cache(self, input_ids: torch.Tensor, position_ids: torch.Tensor,
                      past: list[tuple[torch.Tensor, torch.Tensor]], want: torch.Tensor):
        """The cache-graph forward (onnx_cache_export.py states the signature): the query tokens
        `input_ids` [B, q] at absolute `position_ids` [B, q] attend to the cached K/V `past` (per layer,
        [B, heads, p, head_dim], rotary already applied to K, no pads) and to themselves (query pad keys
        masked as in forward). Returns (logits [B, w1-w0, V] of query rows want = [w0, w1),
        presents [(k, v)] per layer [B, heads, q, head_dim], the wanted row indices). With every token
        in the query, past length 0, position_ids = forward's positions and want = [0, S], the logits
        equal forward(input_ids)."""
        keep = input_ids != self.cfg.pad_id
        x = self.tok_emb(input_ids)
        rot = None
        if self.cfg.positions == "learned":
            x = x + self.pos_emb(position_ids)
        else:
            rot = rotary_tables(position_ids, self.cfg.d_model // self.cfg.n_heads, self.cfg.rope_base)
        b = input_ids.shape[0]
        p = past[0][0].shape[2]
        key_bias = torch.cat((torch.zeros(b, p, dtype=x.dtype), (~keep).to(x.dtype) * -1e9), dim=1)[:, None, None, :]
        presents = []
        for blk, (pk, pv) in zip(self.blocks, past):
            x, k, v = blk.forward_cache(x, key_bias, rot, pk, pv)
            presents.append((k, v))
        rows = want_rows(input_ids.shape[1], want)
        return self.lm_head(self.norm(x.index_select(1, rows))), presents, rows

    def empty_past(self, batch: int = 1) -> list[tuple[torch.Tensor, torch.Tensor]]:
        hd = self.cfg.d_model // self.cfg.n_heads
        z = torch.zeros(batch, self.cfg.n_heads, 0, hd)
        return [(z, z) for _ in range(self.cfg.n_layers)]

    def num_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters())
