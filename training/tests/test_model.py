"""The transformer's position handling: RoPE by hand, relative-only scores, left-padding invariance."""
import math

import pytest
import torch

from edit_dllm.model import MaskedDiffusionLM, ModelConfig, rotary_tables, rotate


def test_rotate_matches_hand_computation():
    # head_dim 2, base 10000: inv_freq = [1]; position 3 rotates (1, 2) by 3 rad.
    cos, sin = rotary_tables(torch.tensor([[3]]), head_dim=2, base=10000.0)
    out = rotate(torch.tensor([[[[1.0, 2.0]]]]), cos, sin)[0, 0, 0]
    c, s = math.cos(3.0), math.sin(3.0)
    assert out.tolist() == pytest.approx([1 * c - 2 * s, 1 * s + 2 * c], abs=1e-6)


def test_rotary_scores_depend_only_on_offset():
    torch.manual_seed(0)
    q, k = torch.randn(1, 1, 1, 8), torch.randn(1, 1, 1, 8)

    def score(i: int, j: int) -> float:
        ci, si = rotary_tables(torch.tensor([[i]]), 8, 10000.0)
        cj, sj = rotary_tables(torch.tensor([[j]]), 8, 10000.0)
        return float((rotate(q, ci, si) * rotate(k, cj, sj)).sum())

    assert score(7, 2) == pytest.approx(score(12, 7), abs=1e-5)
    assert score(7, 2) != pytest.approx(score(7, 3), abs=1e-3)


@pytest.mark.parametrize("positions", ["learned", "rope"])
def test_left_padding_does_not_change_outputs(positions):
    torch.manual_seed(0)
    m = MaskedDiffusionLM(ModelConfig(vocab_size=20, mask_id=3, pad_id=2, d_model=32, n_layers=2, n_heads=2,
                                      d_ff=48, max_len=32, positions=positions)).eval()
    ids = torch.randint(4, 20, (1, 9))
    padded = torch.cat([torch.full((1, 4), 2), ids], dim=1)
    with torch.no_grad():
        assert torch.allclose(m(ids), m(padded)[:, 4:], atol=1e-5)


def test_unknown_positions_is_refused():
    with pytest.raises(ValueError, match="positions must be 'learned' or 'rope'"):
        ModelConfig(vocab_size=20, mask_id=3, pad_id=2, positions="alibi")
