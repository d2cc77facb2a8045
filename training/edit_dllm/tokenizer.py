"""Char-level tokenizer in Hugging Face `tokenizers` format (bundle contract: tokenizer.json).

A BPE model with an EMPTY merge list (so every character is one token), the four special tokens as
added tokens with fixed ids, no normalizer, no pre-tokenizer, a Fuse decoder. The JS runtime
(@huggingface/tokenizers) loads the same file.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from tokenizers import AddedToken, Tokenizer, decoders
from tokenizers.models import BPE

UNK, EOS, PAD, MASK = "<|unk|>", "<|eos|>", "<|pad|>", "<|mask|>"
SPECIALS = (UNK, EOS, PAD, MASK)  # ids 0, 1, 2, 3
# "\n" then printable ASCII; every task's text is drawn from these (tasks.code filters to them).
CHARS = ["\n"] + [chr(c) for c in range(32, 127)]


class TokenizerError(ValueError):
    pass


@dataclass(frozen=True)
class SpecialIds:
    unk: int
    eos: int
    pad: int
    mask: int

    def to_dict(self) -> dict:
        return {"mask": self.mask, "eos": self.eos, "pad": self.pad, "unk": self.unk}


def build() -> Tokenizer:
    vocab = {tok: i for i, tok in enumerate(list(SPECIALS) + CHARS)}
    tok = Tokenizer(BPE(vocab=vocab, merges=[], unk_token=UNK))
    tok.decoder = decoders.Fuse()
    tok.add_special_tokens([AddedToken(s, special=True, normalized=False) for s in SPECIALS])
    return tok


def save(tok: Tokenizer, path: str | Path) -> None:
    tok.save(str(path))


def load(path: str | Path) -> Tokenizer:
    p = Path(path)
    if not p.is_file():
        raise TokenizerError(f"tokenizer file not found: {p}")
    return Tokenizer.from_file(str(p))


def special_ids(tok: Tokenizer) -> SpecialIds:
    ids = [tok.token_to_id(s) for s in SPECIALS]
    if any(i is None for i in ids):
        raise TokenizerError(f"tokenizer lacks one of the special tokens {SPECIALS}")
    return SpecialIds(*ids)


class CharCodec:
    """Fast text <-> ids for training; identical to the `tokenizers` encoding for task text."""

    def __init__(self, tok: Tokenizer | None = None) -> None:
        self.tok = tok or build()
        self.ids = special_ids(self.tok)
        self.vocab_size = self.tok.get_vocab_size()
        self._c2i = {c: self.tok.token_to_id(c) for c in CHARS}
        self._i2c = {i: c for c, i in self._c2i.items()}

    def encode(self, text: str) -> list[int]:
        try:
            return [self._c2i[c] for c in text]
        except KeyError as e:
            raise TokenizerError(f"character {e.args[0]!r} is not in the char vocabulary") from None

    def decode(self, ids: list[int], stop_at_eos: bool = True) -> str:
        out = []
        for i in ids:
            if stop_at_eos and i == self.ids.eos:
                break
            out.append(self._i2c.get(int(i), ""))
        return "".join(out)
