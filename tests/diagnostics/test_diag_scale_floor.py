"""Work the 1M x 50 diagnosis did beyond its floor, taken out with every answer unchanged (issue-24d):
each shortcut against the plain computation it replaces, bit for bit."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from diagnostics import loader, silences
from diagnostics.context import class_codes
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


def _plain_numeric_column(col: pa.ChunkedArray) -> tuple[np.ndarray | None, np.ndarray | None]:
    """The column decoded and trimmed whole before its probe (the loader until issue-24d)."""
    typ = col.type
    if pa.types.is_dictionary(typ):
        col = col.cast(typ.value_type)
        typ = col.type
    if loader._is_numeric_type(typ):
        return loader._to_float(col), None
    if pa.types.is_null(typ):
        return np.full(len(col), np.nan), None
    if not (pa.types.is_string(typ) or pa.types.is_large_string(typ)):
        return None, None
    trimmed = pc.utf8_trim_whitespace(col)
    n = len(trimmed)
    probe = pc.take(trimmed, pa.array(np.unique(np.linspace(0, max(n - 1, 0), min(n, 2000)).astype(np.int64))))
    probe_present = pc.fill_null(pc.greater(pc.utf8_length(probe), 0), False)
    if not pc.any(probe_present).as_py():
        if not pc.any(pc.fill_null(pc.greater(pc.utf8_length(trimmed), 0), False)).as_py():
            return np.full(n, np.nan), None
    else:
        probe_numeric = pc.fill_null(pc.match_substring_regex(probe, loader._NUMBER_RE), False)
        share = pc.sum(pc.and_(probe_numeric, probe_present)).as_py() / max(pc.sum(probe_present).as_py(), 1)
        if share < loader.MIXED_MIN_NUMERIC:
            return None, None
    present = pc.fill_null(pc.greater(pc.utf8_length(trimmed), 0), False)
    numeric = pc.fill_null(pc.match_substring_regex(trimmed, loader._NUMBER_RE), False)
    nums = pc.cast(pc.if_else(numeric, trimmed, pa.scalar(None, trimmed.type)), pa.float64())
    bad = pc.and_(present, pc.invert(numeric)).to_numpy(zero_copy_only=False).astype(bool)
    n_present = int(pc.sum(present).as_py() or 0)
    if n_present and bad.sum() > (1 - loader.MIXED_MIN_NUMERIC) * n_present:
        return None, None
    return nums.to_numpy(zero_copy_only=False).astype(np.float64), (bad if bad.any() else None)


def _text_rows(kind: str, rng: np.random.Generator, n: int) -> list[str | None]:
    """Rows of a text column: segments, numbers with some words among them (a mixed column), NaN and
    infinity spelled out, padding, empties and missing rows, or rows empty but for a tail the probe
    may miss."""
    if kind == "segments":
        rows: list[str | None] = [str(v) for v in rng.choice(["eu_west", " us_east ", "apac", ""], n)]
    elif kind == "mixed":
        rows = [f" {v:.3f}" if rng.random() < 0.8 else "n/a" for v in rng.normal(size=n)]
        rows[::97] = ["nan"] * len(rows[::97])
        rows[::89] = ["inf"] * len(rows[::89])
        rows[::83] = ["-Infinity "] * len(rows[::83])
    elif kind == "mostly_words":
        rows = [f"{v:.1f}" if rng.random() < 0.3 else "word" for v in rng.normal(size=n)]
    else:  # "empty_but_tail": the probe sees only empties, the rows do not
        rows = [""] * n
        rows[-1] = "late"
    for i in np.flatnonzero(rng.random(n) < 0.05):
        rows[i] = None
    return rows


@pytest.mark.parametrize("kind", ["segments", "mixed", "mostly_words", "empty_but_tail"])
@pytest.mark.parametrize("form", ["string", "large_string", "dictionary", "dictionary_chunks"])
def test_a_text_column_is_typed_as_when_decoded_whole(kind: str, form: str) -> None:
    rng = np.random.default_rng(7)
    rows = _text_rows(kind, rng, 7_001)
    if form == "string":
        col = pa.chunked_array([pa.array(rows)])
    elif form == "large_string":
        col = pa.chunked_array([pa.array(rows, type=pa.large_string())])
    elif form == "dictionary":
        col = pa.chunked_array([pa.array(rows).dictionary_encode()])
    else:
        col = pa.chunked_array([pa.array(rows[i : i + 2_000]).dictionary_encode() for i in range(0, len(rows), 2_000)])
    got, want = loader._numeric_column(col), _plain_numeric_column(col)
    for g, w in zip(got, want, strict=True):
        assert (g is None) == (w is None)
        if g is not None and w is not None:
            assert g.dtype == w.dtype and np.array_equal(g, w, equal_nan=True)
    features = loader._feature_column(col)[0]
    assert isinstance(features, Categorical) == (want[0] is None)


def _plain_expected_rows(ts: np.ndarray) -> np.ndarray:
    """`silences.expected_rows` as one expression (until issue-24d): seven temporaries of a gap each."""
    if ts.size < 2:
        return np.zeros(0)
    start, end = ts[:-1], ts[1:]
    lo = np.maximum(start - silences.WINDOW_S, ts[0])
    hi = np.minimum(end + silences.WINDOW_S, ts[-1])
    idx = np.arange(1, ts.size)
    around = (idx - np.searchsorted(ts, lo, side="left")) + (np.searchsorted(ts, hi, side="right") - idx)
    covered = (start - lo) + (hi - end)
    with np.errstate(invalid="ignore", divide="ignore"):
        rate = np.where(covered >= silences.MIN_COVER_S, around / np.maximum(covered, 1.0), 0.0)
    return np.asarray(rate * (end - start), dtype=np.float64)


def _plain_silence(
    ts: np.ndarray, since: float, closed: tuple[np.ndarray, np.ndarray], min_s: float, max_s: float
) -> tuple[float, ...] | None:
    expected = _plain_expected_rows(ts)
    if expected.size == 0:
        return None
    gaps = np.diff(ts)
    expected = np.where(gaps > max_s, 0.0, expected)
    expected = np.where(silences.inside_closings(closed, ts[:-1], ts[1:]), 0.0, expected)
    first = max(int(np.searchsorted(ts[:-1], since, side="right")) - 1, 0)
    k = first + int(np.argmax(expected[first:]))
    if gaps[k] < min_s:
        return None
    if first > 0:
        yardstick = float(expected[:first].max())
    else:
        others = np.delete(expected, k)
        yardstick = float(others.max()) if others.size else 0.0
    if expected[k] < max(silences.MIN_EXPECTED, silences.FACTOR * yardstick):
        return None
    return float(ts[k]), float(gaps[k]), float(expected[k]), yardstick


def _timestamps(seed: int) -> np.ndarray:
    """Sorted times: tiny logs, an outage, ties, a NaN or an infinite time at the end."""
    rng = np.random.default_rng(seed)
    n = int(rng.choice([0, 1, 2, 3, 10, 100, 5_000, 40_000]))
    ts = np.sort(rng.uniform(0, rng.choice([600, 3600 * 5, 86400 * 3]), n))
    if n > 10 and seed % 3 == 0:  # an outage
        a = rng.uniform(ts[0], ts[-1])
        ts = ts[(ts < a) | (ts > a + rng.uniform(600, 9_000))]
    if n > 10 and seed % 5 == 0:
        ts = np.round(ts)  # ties
    if n > 10 and seed % 7 == 0:
        ts[-1] = np.nan if seed % 2 else np.inf
    return ts


@pytest.mark.parametrize("seed", range(60))
def test_the_silences_weigh_as_the_plain_expression(seed: int) -> None:
    ts = _timestamps(seed)
    with np.errstate(all="ignore"):
        want = _plain_expected_rows(ts)
        got = silences.expected_rows(ts)
    assert got.dtype == want.dtype and np.array_equal(got.view(np.int64), want.view(np.int64))
    if ts.size < 2:
        return
    for closed in ((np.zeros(0), np.zeros(0)), (np.array([ts[0] + 100.0]), np.array([ts[0] + 5_000.0]))):
        for since in (float(ts[0]), float(np.nanmedian(ts))):
            for max_s in (np.inf, 7_200.0):
                with np.errstate(all="ignore"):
                    plain = _plain_silence(ts, since, closed, 600.0, max_s)
                    found = silences.improbable_silence(ts, since, closed, 600.0, max_s)
                got_t = None if found is None else (found.start, found.seconds, found.expected, found.yardstick)
                assert repr(got_t) == repr(plain)


def test_the_kept_silences_are_read_not_written() -> None:
    """The log's `expected_rows` is kept for the traffic check: weighing a silence leaves it as it was."""
    ts = _timestamps(3)
    rows = silences.GapRows(ts)
    kept = rows.expected_rows(ts).copy()
    silences.improbable_silence(ts, float(ts[0]), (np.array([ts[0]]), np.array([ts[-1]])), 600.0, 60.0, rows)
    assert np.array_equal(rows.expected_rows(ts), kept)


def test_class_codes_as_the_plain_lookup() -> None:
    """Categories among no classes and missing rows are -1, as the lookup's -2 mapped to -1 was."""
    rng = np.random.default_rng(5)
    values = Categorical(
        rng.integers(-1, 5, 10_000).astype(np.int32), np.array(["b", "a", "z", "1", "c"], dtype=object)
    )
    classes = np.array(["a", "b", "c", "d"], dtype=object)
    lookup = {str(c): i for i, c in enumerate(classes)}
    table = np.array([lookup.get(str(c), -2) for c in values.categories] + [-1], dtype=np.int64)
    plain = table[values.codes]
    want = np.where(plain == -2, -1, plain)
    got = class_codes(values, classes)
    assert got.dtype == want.dtype and np.array_equal(got, want)
