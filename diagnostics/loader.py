"""Load a prediction log (Parquet, CSV or SQL) and a change log (JSONL) into diagnostics arrays.

Typing follows docs/contracts.md: `timestamp`, `model_version` and `prediction` are required; numeric
columns are numeric features and everything else is categorical. A text column whose values are
mostly numbers is taken as numeric and the rows that are not numbers are recorded in
`PredictionLog.invalid` (mixed types): the diagnosis reports them instead of failing.
`LogError` is raised only for input that cannot be diagnosed, with a message naming the file,
the column and the row.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from diagnostics.log import CHANGE_KINDS, REQUIRED_COLUMNS, RESERVED_COLUMNS, Categorical, ChangeRecord, PredictionLog

MIXED_MIN_NUMERIC = 0.5  # a text column is numeric-with-bad-values when at least this share parses
_NUMBER_RE = r"^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$|^(?i:[-+]?(nan|inf|infinity))$"
_TRUE = {"1", "true", "t", "yes", "y"}
_FALSE = {"0", "false", "f", "no", "n", ""}


class LogError(ValueError):
    """Input that cannot be diagnosed; the message names file, column and row."""


def load_log(source: str | Path, *, query: str | None = None, reference: bool = False) -> PredictionLog:
    """Read a prediction log from a .parquet/.csv path or a SQLAlchemy URL (`?table=` or `query`).

    `reference=True` reads a reference set, which may be training data: only its feature
    columns are required (docs/contracts.md); a missing `timestamp`, `model_version` or
    `prediction` is left empty for `diagnostics.reference.complete_reference` to fill from the log.
    """
    text = str(source)
    if "://" in text:
        table, name, line_offset = _read_sql(text, query), _redact(text), None
    else:
        path = Path(text)
        if not path.exists():
            raise LogError(f"{path}: no such file")
        suffix = path.suffix.lower()
        try:
            if suffix in (".parquet", ".pq"):
                # column by column: cheaper than one read_table, and the decoded Arrow copy of
                # the whole file never coexists with the numpy arrays
                parquet = _parquet_file(path)
                return table_to_log(parquet, name=str(path), line_offset=None, reference=reference)
            elif suffix in (".csv", ".tsv", ".txt") or suffix.endswith(".gz"):
                import pyarrow.csv as pcsv

                parse = pcsv.ParseOptions(delimiter="\t" if suffix == ".tsv" else ",")
                # an empty cell is a missing value (an unlabelled row), not the class ""; a version
                # is text as written: read as a number, "1.10" would become 1.1 and merge with
                # version "1.1" (and "2.0" with "2")
                convert = pcsv.ConvertOptions(strings_can_be_null=True, column_types={"model_version": pa.string()})
                table, line_offset = pcsv.read_csv(path, parse_options=parse, convert_options=convert), 1
            else:
                raise LogError(f"{path}: unknown log format {suffix!r}; expected .parquet or .csv")
        except LogError:
            raise
        except (pa.ArrowInvalid, OSError) as exc:
            raise LogError(f"{path}: cannot read the file: {_first_line(exc)}") from exc
        name = str(path)
    if query is not None and "://" not in text:
        raise LogError(f"{name}: --query needs a SQLAlchemy URL as the log")
    return table_to_log(table, name=name, line_offset=line_offset, reference=reference)


def frame_to_log(df: Any, *, name: str = "frame") -> PredictionLog:
    """A pandas DataFrame to a `PredictionLog`, typed exactly as files are."""
    return table_to_log(_frame_to_table(df, name), name=name)


def load_changes(path: str | Path) -> list[ChangeRecord]:
    """Change events from a JSONL file (one docs/contracts.md change event per line)."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise LogError(f"{p}: cannot read the change log: {exc.strerror or exc}") from exc
    out: list[ChangeRecord] = []
    for lineno, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            raise LogError(f"{p}: line {lineno}: not valid JSON ({exc.msg})") from exc
        if not isinstance(obj, dict):
            raise LogError(f"{p}: line {lineno}: expected a JSON object")
        if "timestamp" not in obj:
            raise LogError(f"{p}: line {lineno}: missing required field 'timestamp'")
        ts = _parse_time_value(obj["timestamp"])
        if ts is None:
            raise LogError(f"{p}: line {lineno}: field 'timestamp' has unparseable value {obj['timestamp']!r}")
        kind = str(obj.get("kind") or "other")
        out.append(
            ChangeRecord(
                timestamp=ts,
                kind=kind if kind in CHANGE_KINDS else "other",
                service=str(obj.get("service") or ""),
                description=str(obj.get("description") or ""),
                from_version=None if obj.get("from_version") is None else str(obj["from_version"]),
                to_version=None if obj.get("to_version") is None else str(obj["to_version"]),
            )
        )
    return out


# --------------------------------------------------------------------------- reading


def _first_line(exc: BaseException) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__


def _redact(url: str) -> str:
    """The URL as shown in messages: never with its password."""
    import sqlalchemy as sa

    try:
        return sa.engine.make_url(url).render_as_string(hide_password=True)
    except Exception:
        return url.split("@")[-1] if "@" in url else url


def _read_sql(url: str, query: str | None) -> pa.Table:
    import pandas as pd
    import sqlalchemy as sa

    shown = _redact(url)
    try:
        parsed = sa.engine.make_url(url)
    except Exception as exc:
        raise LogError(f"{shown}: not a SQLAlchemy URL: {_first_line(exc)}") from exc
    table = parsed.query.get("table")
    if isinstance(table, tuple):
        table = table[0]
    engine_url = parsed.difference_update_query(["table"])
    if query is None and not table:
        raise LogError(f"{shown}: name the table with ?table=NAME or pass --query")
    try:
        engine = sa.create_engine(engine_url)
    except Exception as exc:  # bad dialect, missing driver: a user error
        raise LogError(f"{shown}: cannot open the database: {_first_line(exc)}") from exc
    try:
        with engine.connect() as conn:
            if query is not None:
                df = pd.read_sql_query(sa.text(query), conn)
            else:
                assert table is not None
                if not sa.inspect(conn).has_table(table):
                    raise LogError(f"{shown}: no table {table!r} in the database")
                df = pd.read_sql_table(table, conn)
    except LogError:
        raise
    except Exception as exc:
        raise LogError(f"{shown}: query failed: {_first_line(exc)}") from exc
    finally:
        engine.dispose()
    return _frame_to_table(df, shown)


def _frame_to_table(df: Any, name: str) -> pa.Table:
    """Column by column, so one column with mixed Python types cannot sink the whole frame."""
    arrays: list[pa.ChunkedArray | pa.Array] = []
    names: list[str] = []
    for col in df.columns:
        series = df[col]
        try:
            arr = pa.array(series, from_pandas=True)
        except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError):
            values = series.to_numpy(dtype=object)
            arr = pa.array([None if _is_null(v) else str(v) for v in values], type=pa.string())
        arrays.append(arr)
        names.append(str(col))
    if len(set(names)) != len(names):
        dup = next(n for n in names if names.count(n) > 1)
        raise LogError(f"{name}: column {dup!r} appears twice")
    return pa.table(arrays, names=names)


def _parquet_file(path: Path) -> Any:
    """A `pyarrow.parquet.ParquetFile` whose reads allocate from the C library's malloc.

    Columns are decoded one at a time and each released once converted to numpy, while the numpy
    copies of the log stay. Through Arrow's default pool (mimalloc) that pattern cost 1.3-1.5 s of
    kernel time on the 1M x 50 log of `benchmarks/diagnose_scale.py` (350 MB of Parquet), through
    the system allocator 0.4-0.6 s: the same arrays, ~0.8 s less CPU a load (issue-15c). A reader
    takes the default pool when it is built, so the default is the system pool for that call only.
    """
    import pyarrow.parquet as pq

    previous = pa.default_memory_pool()
    pa.set_memory_pool(pa.system_memory_pool())
    try:
        return pq.ParquetFile(path)
    finally:
        pa.set_memory_pool(previous)


def _is_null(v: Any) -> bool:
    return v is None or (isinstance(v, float) and math.isnan(v))


# --------------------------------------------------------------------------- typing


class _Columns:
    """Columns of an Arrow table or a Parquet file, each released once converted, so Arrow and
    numpy copies of the whole log never coexist (peak memory stays near one copy of the data)."""

    def __init__(self, source: Any) -> None:
        self._table: pa.Table | None = source if isinstance(source, pa.Table) else None
        self._parquet: Any = None if isinstance(source, pa.Table) else source
        self._cache: tuple[str, pa.ChunkedArray] | None = None
        if self._table is not None:
            self.column_names = [str(c) for c in self._table.column_names]
            self.num_rows = int(self._table.num_rows)
        else:
            self.column_names = [str(c) for c in source.schema_arrow.names]
            self.num_rows = int(source.metadata.num_rows)

    def column(self, name: str) -> pa.ChunkedArray:
        if self._table is not None:
            return self._table.column(name)
        if self._cache is None or self._cache[0] != name:
            assert self._parquet is not None
            self._cache = (name, self._parquet.read(columns=[name], use_threads=True).column(0))
        return self._cache[1]

    def release(self, name: str) -> None:
        if self._table is not None:
            self._table = self._table.drop_columns([name])
        elif self._cache is not None and self._cache[0] == name:
            self._cache = None


def table_to_log(
    source: Any, *, name: str, line_offset: int | None = None, reference: bool = False
) -> PredictionLog:
    """Type the columns of an Arrow table (or a `pyarrow.parquet.ParquetFile`) per docs/contracts.md."""
    table = _Columns(source)
    del source
    columns = table.column_names
    missing = [c for c in REQUIRED_COLUMNS if c not in columns]
    if missing and reference:
        if not any(c not in RESERVED_COLUMNS for c in columns):
            raise LogError(
                f"{name}: a reference needs the log's feature columns, or the full prediction-log columns "
                f"(found: {', '.join(columns[:12]) or 'no columns'})"
            )
    elif missing:
        found = ", ".join(columns[:12]) + (", ..." if len(columns) > 12 else "")
        raise LogError(f"{name}: missing required column {missing[0]!r} (found: {found or 'no columns'})")
    if table.num_rows == 0:
        raise LogError(f"{name}: the log has no rows")

    def where(row: int) -> str:
        return f"row {row + 1}" + (f" (line {row + 1 + line_offset})" if line_offset else "")

    invalid: dict[str, np.ndarray] = {}
    notes: list[str] = []
    n = table.num_rows
    # a training set as the reference has no time, version or predictions of its own
    ts = _timestamps(table.column("timestamp"), name, where) if "timestamp" in columns else np.full(n, np.nan)
    version = (
        _categorical(table.column("model_version"))
        if "model_version" in columns
        else Categorical(np.full(n, -1, dtype=np.int64), np.empty(0, dtype=object))
    )
    prediction = _value_column(table.column("prediction")) if "prediction" in columns else np.full(n, np.nan)
    label = _value_column(table.column("label")) if "label" in columns else None
    latency = None
    if "latency_ms" in columns:
        lat, bad = _numeric_column(table.column("latency_ms"))
        if lat is None:
            raise LogError(
                f"{name}: column 'latency_ms' is not numeric (first value {_first_value(table.column('latency_ms'))!r})"
            )
        latency = lat
        if bad is not None and bad.any():
            notes.append(
                f"column 'latency_ms': {int(bad.sum())} values are not numbers, first at {where(int(np.argmax(bad)))}"
            )
    error = _error_column(table.column("error"), name, where) if "error" in columns else None
    features: dict[str, np.ndarray | Categorical] = {}
    for col in columns:
        if col in RESERVED_COLUMNS:
            continue
        values, bad = _feature_column(table.column(col))
        features[col] = values
        if bad is not None and bad.any():
            invalid[col] = bad
            first = int(np.argmax(bad))
            raw = table.column(col)[first].as_py()
            notes.append(
                f"column {col!r} mixes types: {int(bad.sum())} values are not numbers "
                f"(first at {where(first)}: {raw!r}); they are treated as missing"
            )
        table.release(col)
    return PredictionLog(
        timestamp=ts,
        model_version=version,
        prediction=prediction,
        label=label,
        latency_ms=latency,
        error=error,
        features=features,
        name=name,
        invalid=invalid,
        notes=notes,
    )


def _first_value(col: pa.ChunkedArray) -> Any:
    for chunk in col.chunks:
        for v in chunk:
            if v.is_valid:
                return v.as_py()
    return None


def _timestamps(col: pa.ChunkedArray, name: str, where: Any) -> np.ndarray:
    typ = col.type
    if pa.types.is_dictionary(typ):
        col = col.cast(typ.value_type)
        typ = col.type
    if pa.types.is_timestamp(typ) or pa.types.is_date(typ):
        values = pc.cast(col, pa.timestamp("ns", tz=typ.tz if pa.types.is_timestamp(typ) else None))
        ints = values.cast(pa.int64())
        nulls = ints.is_null()
        arr = ints.to_numpy(zero_copy_only=False).astype(np.float64) / 1e9
    elif pa.types.is_integer(typ) or pa.types.is_floating(typ):
        arr = col.cast(pa.float64()).to_numpy(zero_copy_only=False).astype(np.float64)
        nulls = None
    elif _is_text_type(typ):
        import pandas as pd

        raw = col.to_numpy(zero_copy_only=False)
        parsed = pd.to_datetime(pd.Series(raw), utc=True, errors="coerce", format="ISO8601")
        bad = parsed.isna().to_numpy()
        if bad.any():
            # epoch seconds written as text are fine too
            as_num = pd.to_numeric(pd.Series(raw), errors="coerce").to_numpy(dtype=np.float64)
            if not np.isnan(as_num[bad]).any():
                out = _epoch_seconds(parsed)
                out[bad] = as_num[bad]
                return _in_epoch_range(out, raw, name, where)
            row = int(np.flatnonzero(bad & np.isnan(as_num))[0])
            value = raw[row]
            what = "is empty" if value is None else f"has unparseable value {value!r}"
            raise LogError(f"{name}: column 'timestamp' {what} at {where(row)}; expected ISO-8601 or epoch seconds")
        return _epoch_seconds(parsed)
    else:
        raise LogError(f"{name}: column 'timestamp' has type {typ}; expected ISO-8601 text or epoch seconds")
    bad_mask = np.isnan(arr) if nulls is None else nulls.to_numpy(zero_copy_only=False)
    if bad_mask.any():
        row = int(np.argmax(bad_mask))
        raise LogError(f"{name}: column 'timestamp' is empty at {where(row)}; every row needs a time")
    return _in_epoch_range(np.asarray(arr), None, name, where)


# epoch seconds of 1900-01-01 and 2200-01-01: the span the app's timestamps accept
_EPOCH_MIN, _EPOCH_MAX = -2208988800.0, 7258118400.0
_EPOCH_UNITS = ((1e17, "nanoseconds"), (1e14, "microseconds"), (1e11, "milliseconds"))


def _in_epoch_range(arr: np.ndarray, raw: Any, name: str, where: Any) -> np.ndarray:
    """Refuse epoch numbers outside 1900-2200 by name: a log in epoch milliseconds would otherwise
    load as the year 58,000 and fail far away from its cause, or not at all."""
    out_of_range = (arr < _EPOCH_MIN) | (arr > _EPOCH_MAX)
    if not out_of_range.any():
        return arr
    row = int(np.argmax(out_of_range))
    value = f"{float(arr[row]):.17g}" if raw is None else repr(raw[row])
    unit = next((u for bar, u in _EPOCH_UNITS if abs(float(arr[row])) >= bar), "")
    hint = f" (epoch {unit}? divide to seconds)" if unit else ""
    raise LogError(
        f"{name}: column 'timestamp' has {value} at {where(row)}, outside 1900-2200 as epoch seconds{hint}; "
        "expected ISO-8601 or epoch seconds"
    )


def _epoch_seconds(parsed: Any) -> np.ndarray:
    """Float epoch seconds of a tz-aware pandas datetime Series, whatever its resolution."""
    import pandas as pd

    seconds = (parsed - pd.Timestamp(0, tz="UTC")).dt.total_seconds()
    return np.array(seconds.to_numpy(dtype=np.float64, na_value=np.nan), dtype=np.float64)


def _categorical(col: pa.ChunkedArray) -> Categorical:
    fast = _dictionary_categorical(col)
    if fast is not None:
        return fast
    if pa.types.is_dictionary(col.type):
        col = col.cast(col.type.value_type)
    if not _is_text_type(col.type):
        col = col.cast(pa.string())
    arr = col.combine_chunks() if col.num_chunks != 1 else col.chunk(0)
    enc = pc.dictionary_encode(arr)
    codes = pc.fill_null(enc.indices, -1).to_numpy(zero_copy_only=False).astype(np.int32)
    cats = np.asarray(enc.dictionary.to_pylist(), dtype=object)
    return Categorical(codes, cats)


def _dictionary_categorical(col: pa.ChunkedArray) -> Categorical | None:
    """A dictionary column of text encoded through its indices, without decoding its strings.

    Decoding a million rows to strings and hashing them again cost ~0.1 s a column (five such
    columns in a Parquet log written by pandas or pyarrow: model version, prediction, label and
    two segments); the indices encode in a tenth of that. The answer is the string path's: codes
    in the order values first appear, the same categories. None (the string path decides) when
    the dictionary could encode two rows apart that their strings join: a repeated or a missing
    dictionary value.
    """
    typ = col.type
    if not _is_text_dictionary(typ):
        return None
    if col.num_chunks == 0 or any(chunk.dictionary.null_count for chunk in col.chunks):
        return None
    unified = col.unify_dictionaries() if col.num_chunks > 1 else col
    dictionary = unified.chunk(0).dictionary
    if len(pc.unique(dictionary)) != len(dictionary):
        return None
    indices = pa.chunked_array([chunk.indices for chunk in unified.chunks], type=typ.index_type)
    arr = indices.combine_chunks() if indices.num_chunks != 1 else indices.chunk(0)
    enc = pc.dictionary_encode(arr)
    codes = pc.fill_null(enc.indices, -1).to_numpy(zero_copy_only=False).astype(np.int32)
    cats = np.asarray(pc.take(dictionary, enc.dictionary).to_pylist(), dtype=object)
    return Categorical(codes, cats)


def _is_text_type(typ: pa.DataType) -> bool:
    return bool(pa.types.is_string(typ) or pa.types.is_large_string(typ))


def _is_text_dictionary(typ: pa.DataType) -> bool:
    return bool(pa.types.is_dictionary(typ) and _is_text_type(typ.value_type))


def _is_numeric_type(typ: pa.DataType) -> bool:
    return bool(pa.types.is_integer(typ) or pa.types.is_floating(typ) or pa.types.is_boolean(typ)
                or pa.types.is_decimal(typ))


def _to_float(col: pa.ChunkedArray) -> np.ndarray:
    return np.asarray(col.cast(pa.float64()).to_numpy(zero_copy_only=False).astype(np.float64, copy=False))


def _numeric_column(col: pa.ChunkedArray) -> tuple[np.ndarray | None, np.ndarray | None]:
    """Floats, plus a mask of non-numeric entries when a text column is mostly numbers.

    A text column is probed on 2,000 of its rows before any is trimmed or decoded: a segment
    column (a region, a device) is text, and trimming its million rows, decoded from their
    dictionary, only to find the probe holds no number cost ~0.1 s a column."""
    typ = col.type
    text_dictionary = _is_text_dictionary(typ)
    if pa.types.is_dictionary(typ) and not text_dictionary:
        col = col.cast(typ.value_type)
        typ = col.type
    if _is_numeric_type(typ):
        return _to_float(col), None
    if pa.types.is_null(typ):
        return np.full(len(col), np.nan), None
    text_type = typ.value_type if text_dictionary else typ
    if not _is_text_type(text_type):
        return None, None

    def trim(rows: Any) -> Any:
        return pc.utf8_trim_whitespace(rows.cast(text_type) if text_dictionary else rows)

    # all in Arrow compute: a regular expression decides what is a number, then a cast
    n = len(col)
    probe = trim(pc.take(col, pa.array(np.unique(np.linspace(0, max(n - 1, 0), min(n, 2000)).astype(np.int64)))))
    probe_present = pc.fill_null(pc.greater(pc.utf8_length(probe), 0), False)
    if not pc.any(probe_present).as_py():
        trimmed = trim(col)
        present_all = pc.fill_null(pc.greater(pc.utf8_length(trimmed), 0), False)
        if not pc.any(present_all).as_py():
            return np.full(n, np.nan), None
    else:
        probe_numeric = pc.fill_null(pc.match_substring_regex(probe, _NUMBER_RE), False)
        share = pc.sum(pc.and_(probe_numeric, probe_present)).as_py() / max(pc.sum(probe_present).as_py(), 1)
        if share < MIXED_MIN_NUMERIC:
            return None, None
        trimmed = trim(col)
    present = pc.fill_null(pc.greater(pc.utf8_length(trimmed), 0), False)
    numeric = pc.fill_null(pc.match_substring_regex(trimmed, _NUMBER_RE), False)
    nums = pc.cast(pc.if_else(numeric, trimmed, pa.scalar(None, trimmed.type)), pa.float64())
    bad = pc.and_(present, pc.invert(numeric)).to_numpy(zero_copy_only=False).astype(bool)
    n_present = int(pc.sum(present).as_py() or 0)
    if n_present and bad.sum() > (1 - MIXED_MIN_NUMERIC) * n_present:
        return None, None
    values = nums.to_numpy(zero_copy_only=False).astype(np.float64)
    return values, (bad if bad.any() else None)


def _value_column(col: pa.ChunkedArray) -> np.ndarray | Categorical:
    """`prediction` / `label`: numbers stay numbers, anything else is a class name."""
    typ = col.type.value_type if pa.types.is_dictionary(col.type) else col.type
    if _is_numeric_type(typ) or pa.types.is_null(typ):
        return _to_float(col) if not pa.types.is_null(typ) else np.full(len(col), np.nan)
    return _categorical(col)


def _feature_column(col: pa.ChunkedArray) -> tuple[np.ndarray | Categorical, np.ndarray | None]:
    typ = col.type.value_type if pa.types.is_dictionary(col.type) else col.type
    if _is_numeric_type(typ):
        return _to_float(col), None
    if pa.types.is_null(typ):
        return np.full(len(col), np.nan), None
    if pa.types.is_timestamp(typ) or pa.types.is_date(typ):
        ints = pc.cast(col, pa.timestamp("ns")).cast(pa.int64())
        return ints.to_numpy(zero_copy_only=False).astype(np.float64) / 1e9, None
    nums, bad = _numeric_column(col)
    if nums is not None and bad is not None:
        return nums, bad  # mixed types: numeric with bad entries
    return _categorical(col), None


def _error_column(col: pa.ChunkedArray, name: str, where: Any) -> np.ndarray:
    typ = col.type.value_type if pa.types.is_dictionary(col.type) else col.type
    if _is_numeric_type(typ):
        return _to_float(col)
    if pa.types.is_null(typ):
        return np.full(len(col), np.nan)
    cat = _categorical(col)
    table = np.empty(len(cat.categories) + 1)
    for i, c in enumerate(cat.categories):
        key = str(c).strip().lower()
        table[i] = 1.0 if key in _TRUE else 0.0 if key in _FALSE else np.nan
    table[-1] = np.nan
    out = table[cat.codes]
    unknown = np.isnan(out) & (cat.codes >= 0)
    if unknown.any():
        row = int(np.argmax(unknown))
        raise LogError(
            f"{name}: column 'error' has value {cat.categories[cat.codes[row]]!r} at {where(row)}; "
            "expected 1/0 or true/false"
        )
    return np.asarray(out)


def _parse_time_value(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        from diagnostics.engine import DiagnosisInputError, to_epoch

        try:
            return to_epoch(value)
        except DiagnosisInputError:
            return None
    return None
