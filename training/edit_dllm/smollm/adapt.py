"""SmolLM2 as a masked-diffusion LM: bidirectional body, LoRA on attention + MLP, a trained mask vector.

Recipe (DiffuLLaMA, arXiv 2410.17891 §3: an AR model becomes a masked-diffusion model by opening the
attention, optionally keeping the shift so that hidden i-1 predicts token i, and training with the
masked-diffusion loss weighted 1/t; LLaDA arXiv 2502.09992 Eq 3/5 for the loss):
- the body is the transformers LlamaModel with its causal mask removed (load.make_bidirectional);
- LoRA (peft) on q/k/v/o and gate/up/down of every layer; the RMSNorm gains also train (35 k numbers);
- the mask token reuses the unused special `<empty_output>` (id 16). Its embedding row gets a trained
  offset `mask_delta` [d]. The head is tied to the embedding, so the offset is applied on both sides
  (input embedding of id 16 and the logit of id 16), exactly as folding it into row 16 of the tied
  matrix would at export;
- `shift=True`: logits row j comes from hidden j-1 (row 0 from its own hidden, as Dream's sampler and
  arch/core.py do).
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F

LORA_TARGETS = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")


@dataclass(frozen=True)
class AdaptConfig:
    shift: bool = True
    lora_r: int = 16
    lora_alpha: int = 32
    train_norms: bool = True
    train_mask: bool = True            # the mask-row offset (False in the SFT: already merged)
    lora_targets: tuple = LORA_TARGETS

    def to_dict(self) -> dict:
        return asdict(self)


class MaskedDiffusionLM(nn.Module):
    def __init__(self, hf_model: nn.Module, mask_id: int, cfg: AdaptConfig) -> None:
        super().__init__()
        from peft import LoraConfig, get_peft_model
        for p in hf_model.parameters():
            p.requires_grad_(False)
        self.cfg = cfg
        self.mask_id = int(mask_id)
        if cfg.lora_targets:
            lcfg = LoraConfig(r=cfg.lora_r, lora_alpha=cfg.lora_alpha, lora_dropout=0.0,
                              target_modules=list(cfg.lora_targets), bias="none")
            self.peft = get_peft_model(hf_model, lcfg)
            self.lm = self.peft.base_model.model       # LlamaForCausalLM (names model.layers.{i}.*)
        else:
            self.peft = None
            self.lm = hf_model
        self.body = self.lm.model                      # LlamaModel: embeddings, layers, final norm
        if cfg.train_norms:
            for n, p in self.body.named_parameters():
                if "norm" in n:
                    p.requires_grad_(True)
        d = self.body.embed_tokens.weight.shape[1]
        self.mask_delta = nn.Parameter(torch.zeros(d), requires_grad=cfg.train_mask)

    @property
    def E(self) -> torch.Tensor:
        return self.body.embed_tokens.weight

    def embed(self, ids: torch.Tensor) -> torch.Tensor:
        x = F.embedding(ids, self.E)
        return x + (ids == self.mask_id).unsqueeze(-1).to(x.dtype) * self.mask_delta

    def head(self, h: torch.Tensor) -> torch.Tensor:
        logits = F.linear(h, self.E)
        extra = h @ self.mask_delta                    # the tied head's row mask_id moves with the offset
        onehot = F.one_hot(torch.tensor(self.mask_id), logits.shape[-1]).to(logits.dtype)
        return logits + extra.unsqueeze(-1) * onehot

    def hidden(self, ids: torch.Tensor) -> torch.Tensor:
        """[B, L, d] hidden states after the final norm, shifted when cfg.shift (row j = hidden j-1)."""
        h = self.body(inputs_embeds=self.embed(ids), use_cache=False).last_hidden_state
        if self.cfg.shift:
            h = torch.cat([h[:, :1], h[:, :-1]], dim=1)
        return h

    def forward(self, ids: torch.Tensor, rows: torch.Tensor | None = None) -> torch.Tensor:
        """Logits [B, L, V], or [N, V] for the rows selected by the bool mask `rows` [B, L] (the head on
        only the positions that need it: it is a fifth of the forward's cost at vocab 49,152)."""
        h = self.hidden(ids)
        if rows is not None:
            h = h[rows]
        return self.head(h)

    def trainable_state(self) -> dict[str, torch.Tensor]:
        return {n: p.detach().clone() for n, p in self.named_parameters() if p.requires_grad}

    def load_trainable_state(self, state: dict[str, torch.Tensor]) -> None:
        params = dict(self.named_parameters())
        unknown = sorted(set(state) - set(params))
        if unknown:
            raise KeyError(f"checkpoint has parameters this model does not: {unknown[:4]} (another LoRA config?)")
        with torch.no_grad():
            for n, t in state.items():
                params[n].copy_(t)


def mdm_loss(model: MaskedDiffusionLM, noisy: torch.Tensor, target: torch.Tensor, masked: torch.Tensor,
             weight: torch.Tensor, n_response: torch.Tensor) -> torch.Tensor:
    """LLaDA SFT loss (arXiv 2502.09992 Eq 5): sum over masked positions of CE / t, over the number of
    response tokens."""
    logits = model(noisy, rows=masked)
    ce = F.cross_entropy(logits.float(), target[masked], reduction="none")
    w = weight[:, None].expand_as(masked)[masked]
    return (ce * w).sum() / n_response.clamp(min=1).sum()
