"""Work the 1M x 50 diagnosis did beyond its floor, taken out with every answer unchanged (issue-24d):
each shortcut against the plain computation it replaces, bit for bit."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from diagnostics import loader
from diagnostics.log import Categorical


def _plain_categorical(col: pa.ChunkedArray) -> Categorical:
    """The string path: decode every row, encode the strings in the order they first appear."""
    text = col.cast(col.type.value_type) if pa.types.is_dictionary(col.type) else col
    enc = pc.dictionary_encode(text.combine_chunks())
    codes = pc.fill_null(enc.indices, -1).to_numpy(zero_copy_only=False).astype(np.int32)
    return Categorical(codes, np.asarray(enc.dictionary.to_pylist(), dtype=object))


def _dictionary_chunks(rng: np.random.Generator, words: list[str | None], chunks: int, n: int) -> pa.ChunkedArray:
    """Chunks with dictionaries of their own (other orders, unused words), missing rows among them."""
    out = []
    for _ in range(chunks):
        order = [words[i] for i in rng.permutation(len(words))]
        idx = rng.integers(0, max(len(order) - 1, 1), n)  # the last word of each order unused
        mask = rng.random(n) < 0.1
        out.append(pa.DictionaryArray.from_arrays(pa.array(idx, mask=mask, type=pa.int32()), pa.array(order)))
    return pa.chunked_array(out)


@pytest.mark.parametrize(
    ("words", "chunks"),
    [
        (["v1", "v2"], 1),
        (["v1", "v2"], 4),
        (["eu_west", "us_east", "apac", "latam", ""], 3),  # an empty string is a value, not a missing one
        (["a", "b", "a"], 2),  # a repeated dictionary value: the string path joins its rows
        (["a", None, "b"], 2),  # a missing dictionary value: the string path reads it as missing
        (["only"], 2),
    ],
)
def test_a_dictionary_column_encodes_as_its_strings(words: list[str | None], chunks: int) -> None:
    rng = np.random.default_rng(len(words) * 10 + chunks)
    col = _dictionary_chunks(rng, words, chunks, 5_000)
    got, want = loader._categorical(col), _plain_categorical(col)
    assert got.codes.dtype == want.codes.dtype
    assert np.array_equal(got.codes, want.codes)
    assert got.categories.dtype == want.categories.dtype and list(got.categories) == list(want.categories)


def test_a_text_dictionary_skips_decoding_its_rows() -> None:
    """The indices are encoded, the strings never: the fast path answers for a clean text dictionary
    and leaves the rest (repeated or missing dictionary values, numbers, plain text) to the strings."""
    rng = np.random.default_rng(1)
    assert loader._dictionary_categorical(_dictionary_chunks(rng, ["x", "y", "z"], 3, 1_000)) is not None
    assert loader._dictionary_categorical(_dictionary_chunks(rng, ["x", "y", "x"], 1, 1_000)) is None
    assert loader._dictionary_categorical(_dictionary_chunks(rng, ["x", None], 3, 1_000)) is None
    assert loader._dictionary_categorical(pa.chunked_array([pa.array(["x", None, "y"])])) is None
    numbers = pa.chunked_array([pa.DictionaryArray.from_arrays(pa.array([0, 1, 0], pa.int8()), pa.array([1.5, 2.5]))])
    assert loader._dictionary_categorical(numbers) is None
    all_missing = pa.chunked_array(
        [pa.DictionaryArray.from_arrays(pa.array([None, None], pa.int32()), pa.array(["x"]))]
    )
    got, want = loader._categorical(all_missing), _plain_categorical(all_missing)
    assert np.array_equal(got.codes, want.codes) and list(got.categories) == list(want.categories) == []
