"""A small LLaDA-style masked-diffusion transformer.

Bidirectional attention, a mask token, RMSNorm + SwiGLU (as LLaDA). Padding is handled inside the
model from `input_ids` alone (keys equal to pad_id are masked out and positions count only non-pad
tokens), so a left-padded batch gives the same outputs as one sequence at a time, and the ONNX
graph needs a single input (`input_ids`), as the bundle contract asks.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F


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

    def forward(self, x: torch.Tensor, key_bias: torch.Tensor) -> torch.Tensor:
        b, s, d = x.shape
        h = self.n_heads
        hd = d // h
        q = self.q_proj(x).view(b, s, h, hd).transpose(1, 2)
        k = self.k_proj(x).view(b, s, h, hd).transpose(1, 2)
        v = self.v_proj(x).view(b, s, h, hd).transpose(1, 2)
        # Written out (not F.scaled_dot_product_attention) so the ONNX graph is plain MatMul/Softmax.
        scores = torch.matmul(q, k.transpose(-1, -2)) / math.sqrt(hd) + key_bias
        out = torch.matmul(torch.softmax(scores, dim=-1), v)
        return self.o_proj(out.transpose(1, 2).reshape(b, s, d))


class Block(nn.Module):
    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.attn_norm = RMSNorm(cfg.d_model)
        self.attn = Attention(cfg)
        self.mlp_norm = RMSNorm(cfg.d_model)
        self.gate = nn.Linear(cfg.d_model, cfg.d_ff, bias=False)
        self.up = nn.Linear(cfg.d_model, cfg.d_ff, bias=False)
        self.down = nn.Linear(cfg.d_ff, cfg.d_model, bias=False)

    def forward(self, x: torch.Tensor, key_bias: torch.Tensor) -> torch.Tensor:
        x = x + self.attn(self.attn_norm(x), key_bias)
        h = self.mlp_norm(x)
        return x + self.down(F.silu(self.gate(h)) * self.up(h))


class MaskedDiffusionLM(nn.Module):
    """forward(input_ids int64 [B, S]) -> logits float32 [B, S, vocab]."""

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.tok_emb = nn.Embedding(cfg.vocab_size, cfg.d_model)
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
        x = self.tok_emb(input_ids) + self.pos_emb(pos)
        # Additive key mask [B, 1, 1, S]: pad keys get a large negative bias (finite, so no NaN).
        key_bias = (~keep).to(x.dtype)[:, None, None, :] * -1e9
        for blk in self.blocks:
            x = blk(x, key_bias)
        return self.lm_head(self.norm(x))

    def num_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters())
