"""core.batching: consecutive and shuffled batches cover every example exactly once, with weights summing to 1."""
import pytest
import torch
from hypothesis import given, settings, strategies as st

from advland.empirical.core.batching import batches, check_batch_size, shuffled_index_batches, slices


@settings(max_examples=40, deadline=None)
@given(n=st.integers(0, 50), batch_size=st.integers(1, 60))
def test_slices_and_batches_cover_the_data_in_order(n, batch_size):
    parts = list(slices(n, batch_size))
    assert [i for sl in parts for i in range(n)[sl]] == list(range(n))
    assert all(sl.stop - sl.start == batch_size for sl in parts[:-1])
    x, y = torch.arange(float(n)).view(n, 1), torch.arange(n)
    got = list(batches(x, y, batch_size))
    assert len(got) == len(parts)
    if n:
        assert torch.equal(torch.cat([xb for xb, _, _ in got]), x)
        assert torch.equal(torch.cat([yb for _, yb, _ in got]), y)
        assert sum(w for _, _, w in got) == pytest.approx(1.0)


@settings(max_examples=30, deadline=None)
@given(n=st.integers(1, 50), batch_size=st.integers(1, 60), seed=st.integers(0, 2**31 - 1))
def test_shuffled_batches_are_one_reproducible_permutation(n, batch_size, seed):
    first = list(shuffled_index_batches(n, batch_size, torch.Generator().manual_seed(seed)))
    again = list(shuffled_index_batches(n, batch_size, torch.Generator().manual_seed(seed)))
    assert sorted(torch.cat(first).tolist()) == list(range(n))
    assert [len(b) for b in first] == [sl.stop - sl.start for sl in slices(n, batch_size)]
    assert all(torch.equal(a, b) for a, b in zip(first, again))


def test_the_permutation_is_torch_randperm_of_the_generator():
    """The training loop's epoch order: one torch.randperm drawn from its generator (bit-exact resume needs it)."""
    expected = torch.randperm(23, generator=torch.Generator().manual_seed(5))
    assert torch.equal(torch.cat(list(shuffled_index_batches(23, 5, torch.Generator().manual_seed(5)))), expected)


@pytest.mark.parametrize("bad", [0, -1, 2.0, True, None])
def test_bad_batch_sizes_are_value_errors(bad):
    with pytest.raises(ValueError, match="batch_size"):
        check_batch_size(bad)
    with pytest.raises(ValueError, match="batch_size"):
        list(slices(3, bad))
    with pytest.raises(ValueError, match="batch_size"):
        list(shuffled_index_batches(3, bad, torch.Generator()))
