"""Task mixing for the full-weight stages: integer task weights, cycle and rows modes, bad weights."""
from collections import Counter

import pytest

from edit_dllm.train import Encoded, MixedSampler


def _data() -> dict[str, list[Encoded]]:
    return {t: [Encoded(t, [i], [i]) for i in range(5)] for t in ("a", "b", "c")}


def test_cycle_mode_gives_each_task_its_weight_in_every_cycle():
    s = MixedSampler(_data(), batch=4, seed=0, mode="cycle", weights={"a": 3, "b": 1, "c": 0})
    for _ in range(10):  # a cycle is 3 + 1 + 0 = 4 batches, each of one task
        cycle = [s.next() for _ in range(4)]
        assert all(len({e.task for e in batch}) == 1 and len(batch) == 4 for batch in cycle)
        assert Counter(batch[0].task for batch in cycle) == Counter({"a": 3, "b": 1})


def test_unweighted_cycle_is_an_even_mix():
    s = MixedSampler(_data(), batch=2, seed=1, mode="cycle")
    assert Counter(s.next()[0].task for _ in range(30)) == Counter({"a": 10, "b": 10, "c": 10})


def test_rows_mode_never_draws_a_zero_weight_task():
    s = MixedSampler(_data(), batch=50, seed=2, mode="rows", weights={"c": 0})
    assert {e.task for _ in range(5) for e in s.next()} == {"a", "b"}


@pytest.mark.parametrize("weights", [{"d": 1}, {"a": -1}, {"a": 1.5}, {"a": 0, "b": 0, "c": 0}])
def test_bad_weights_are_refused_with_the_tasks_named(weights):
    with pytest.raises(ValueError, match="task weights"):
        MixedSampler(_data(), batch=2, seed=0, mode="cycle", weights=weights)
