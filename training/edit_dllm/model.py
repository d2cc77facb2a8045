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
        # Written out (not F.scaled_dot_product_attention) so the ONNX graph is plain MatMul/Softmax.
        scores = torch.matmul(q, k.transpose(-1, -2)) / math.sqrt(hd) + key_bias
        out = torch.matmul(torch.softmax(scores, dim=-1), v)
        return self.o_proj(out.transpose(1, 2).reshape(b, s, d))


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
        h = self.mlp_norm(x)
        return x + self.down(F.silu(self.gate(h)) * self.up(h))


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

    def num_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters())
