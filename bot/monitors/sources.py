"""Reading a monitor's prediction log: SQL tables/queries and Parquet/CSV files.

A run reads each window once. In ``aggregate`` mode (the default) the database counts the
window's rows (`Source.count`, an index range scan on the timestamp) and a larger window than
the monitor's ``max_rows`` is sampled where the data is (`Source.frame` with a share below 1:
a ``random()`` filter in SQL, per batch for files), so only kept rows travel and memory is
bounded by ``max_rows``. ``load`` mode fetches every row (the baseline).

Every failure to read is a `SourceError` whose message says what could not be read, without
credentials: the runner turns it into an incident, because a broken pipeline must not look
like a quiet one.
"""

from __future__ import annotations

import glob
import re
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import numpy as np
import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Engine, make_url

from bot.db import normalize_url
from bot.monitors.layout import Layout, Task, epoch_seconds
from bot.monitors.loader import MonitorConfigError, expand_env
from bot.monitors.schema import SourceSpec
from diagnostics.log import RESERVED_COLUMNS

PROBE_ROWS = 500


class SourceError(Exception):
    """The source could not be read; the message is safe to show (no credentials)."""


@dataclass(frozen=True)
class Window:
    start: datetime
    end: datetime

    @property
    def minutes(self) -> float:
        return (self.end - self.start).total_seconds() / 60.0


def redact_url(url: str) -> str:
    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:
        return re.sub(r"//[^@/]*@", "//***@", url)


# ---------------------------------------------------------------- layout probing


def _kind_of(values: list[Any]) -> str:
    seen = [v for v in values if v is not None and not (isinstance(v, float) and np.isnan(v))]
    if not seen:
        return "unknown"
    if all(isinstance(v, bool | np.bool_) for v in seen):
        return "bool"
    if all(isinstance(v, int | float | Decimal | np.integer | np.floating) for v in seen):
        return "numeric"
    if all(isinstance(v, datetime | pd.Timestamp | np.datetime64) for v in seen):
        return "datetime"
    return "text"


def layout_from_sample(columns: list[str], sample: dict[str, list[Any]], timestamp: str,
                       task: Task | None, *, need_timestamp: bool = True) -> Layout:
    """Classify columns the way docs/contracts.md says: numeric dtype = numeric feature, otherwise categorical."""
    for required in ("model_version", "prediction") if need_timestamp else ():
        if required not in columns:
            raise SourceError(f"column {required!r} is missing (columns: {', '.join(columns)})")
    ts_kind = "numeric"
    sep = "T"
    if need_timestamp:
        if timestamp not in columns:
            raise SourceError(f"timestamp column {timestamp!r} is missing (columns: {', '.join(columns)})")
        kind = _kind_of(sample[timestamp])
        if kind in ("unknown", "bool"):
            raise SourceError(f"timestamp column {timestamp!r} has no usable values")
        ts_kind = kind
        if kind == "text":
            first = next(str(v) for v in sample[timestamp] if v is not None)
            sep = " " if len(first) > 10 and first[10] == " " else "T"
    kinds = {c: _kind_of(sample.get(c, [])) for c in columns}
    features = [c for c in columns if c not in RESERVED_COLUMNS and c != timestamp]
    numeric = tuple(c for c in features if kinds[c] == "numeric")
    categorical = tuple(c for c in features if kinds[c] != "numeric")
    if task is None:
        task = "regression" if kinds.get("prediction") == "numeric" and kinds.get("label") in (
            "numeric", "unknown", None) else "classification"
    error_kind = kinds.get("error", "none")
    if error_kind == "unknown":
        error_kind = "numeric"
    return Layout(
        timestamp=timestamp, ts_kind=ts_kind,  # type: ignore[arg-type]
        ts_sep=sep, numeric=numeric, categorical=categorical, task=task,
        has_version="model_version" in columns, has_label="label" in columns and "prediction" in columns,
        has_latency="latency_ms" in columns,
        error_kind=error_kind if "error" in columns else "none",  # type: ignore[arg-type]
        columns=tuple(columns),
    )


def restrict(reference: Layout, current: Layout) -> Layout:
    """A reference set is summarized over the current log's features only (and the same task)."""
    return replace(
        reference,
        numeric=tuple(c for c in current.numeric if c in reference.columns),
        categorical=tuple(c for c in current.categorical if c in reference.columns),
        task=current.task,
    )


# ---------------------------------------------------------------- the interface


class Source:
    """One readable prediction log."""

    spec: SourceSpec
    description: str

    def probe(self, task: Task | None, *, need_timestamp: bool = True) -> Layout:
        raise NotImplementedError

    def count(self, layout: Layout, window: Window | None) -> int:
        """Rows in the window (all rows without one): sizes the sample before any row is read."""
        raise NotImplementedError

    def latest_timestamp(self, layout: Layout) -> datetime | None:
        raise NotImplementedError

    def frame(self, layout: Layout, window: Window | None, fraction: float = 1.0) -> pd.DataFrame:
        """The window's rows, each kept with probability ``fraction`` (drawn where the data is)."""
        raise NotImplementedError

    def close(self) -> None:
        pass


# ---------------------------------------------------------------- SQL


class SqlSource(Source):
    def __init__(self, spec: SourceSpec, engine: Engine) -> None:
        self.spec = spec
        self.engine = engine
        what = f"table {spec.table}" if spec.table else "query"
        self.description = f"{what} at {redact_url(str(engine.url))}"
        self._tz_aware = True

    def _from(self) -> sa.TextClause:
        prep = self.engine.dialect.identifier_preparer
        if self.spec.table:
            return sa.text(".".join(prep.quote(p) for p in self.spec.table.split(".")))
        return sa.text(f"({self.spec.query}) AS mlr_src")

    def _fail(self, exc: Exception, doing: str) -> SourceError:
        detail = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0][:300]
        password = make_url(str(self.engine.url)).password
        if password:
            detail = detail.replace(str(password), "***")
        return SourceError(f"cannot {doing} {self.description}: {detail}")

    def probe(self, task: Task | None, *, need_timestamp: bool = True) -> Layout:
        try:
            with self.engine.connect() as conn:
                result = conn.execute(sa.select(sa.text("*")).select_from(self._from()).limit(PROBE_ROWS))
                columns = list(result.keys())
                rows = result.fetchall()
        except sa.exc.SQLAlchemyError as exc:
            raise self._fail(exc, "read") from None
        sample = {c: [r[i] for r in rows] for i, c in enumerate(columns)}
        if need_timestamp and self.spec.timestamp in sample:
            stamps = [v for v in sample[self.spec.timestamp] if isinstance(v, datetime)]
            self._tz_aware = bool(stamps) and stamps[0].tzinfo is not None
        try:
            return layout_from_sample(columns, sample, self.spec.timestamp, task, need_timestamp=need_timestamp)
        except SourceError as exc:
            raise SourceError(f"{self.description}: {exc}") from None

    # -- window bounds in the column's own representation
    def _bound(self, layout: Layout, when: datetime) -> Any:
        when = when.astimezone(UTC)
        if layout.ts_kind == "numeric":
            return when.timestamp()
        if layout.ts_kind == "datetime":
            return when if self._tz_aware else when.replace(tzinfo=None)
        fmt = f"%Y-%m-%d{layout.ts_sep}%H:%M:%S" + (".%f" if when.microsecond else "")
        return when.strftime(fmt)

    def _where(self, layout: Layout, window: Window | None) -> list[Any]:
        if window is None:
            return []
        ts = _col(layout.timestamp)
        return [ts >= sa.bindparam("w_start", self._bound(layout, window.start)),
                ts < sa.bindparam("w_end", self._bound(layout, window.end))]

    def latest_timestamp(self, layout: Layout) -> datetime | None:
        try:
            with self.engine.connect() as conn:
                value = conn.execute(sa.select(sa.func.max(_col(layout.timestamp))).select_from(self._from())
                                     ).scalar()
        except sa.exc.SQLAlchemyError as exc:
            raise self._fail(exc, "read") from None
        if value is None:
            return None
        return datetime.fromtimestamp(float(epoch_seconds([value])[0]), tz=UTC)

    def count(self, layout: Layout, window: Window | None) -> int:
        stmt = sa.select(sa.func.count()).select_from(self._from()).where(*self._where(layout, window))
        try:
            with self.engine.connect() as conn:
                return int(conn.execute(stmt).scalar() or 0)
        except sa.exc.SQLAlchemyError as exc:
            raise self._fail(exc, "read") from None

    def frame(self, layout: Layout, window: Window | None, fraction: float = 1.0) -> pd.DataFrame:
        where = self._where(layout, window)
        if fraction < 1.0:
            where.append(self._sample(fraction))
        stmt = sa.select(sa.text("*")).select_from(self._from()).where(*where)
        try:
            with self.engine.connect() as conn:
                # The driver's rows straight into pandas: SQLAlchemy's per-row Result processing
                # (nothing to convert for SELECT *) cost as much as the fetch itself.
                cursor = conn.execute(stmt).cursor
                names = [d[0] for d in cursor.description]
                rows = cursor.fetchall()
        except (sa.exc.SQLAlchemyError, self.engine.dialect.loaded_dbapi.Error) as exc:  # the driver's own
            raise self._fail(exc, "load") from None  # error class when the raw cursor's fetch fails
        return pd.DataFrame.from_records(rows, columns=names, coerce_float=True)

    def _sample(self, fraction: float) -> Any:
        """A Bernoulli row filter evaluated by the database (only the kept rows travel)."""
        if self.engine.dialect.name == "sqlite":  # random(): a signed 64-bit integer
            return sa.func.abs(sa.func.random() % 1_000_000) < int(fraction * 1_000_000)
        return sa.func.random() < fraction  # PostgreSQL and most others: uniform on [0, 1)


def _col(name: str) -> sa.ColumnClause[Any]:
    return sa.column(name)


# ---------------------------------------------------------------- files


class FileSource(Source):
    def __init__(self, spec: SourceSpec) -> None:
        assert spec.path is not None
        self.spec = spec
        self.description = f"files {spec.path}"

    def _files(self) -> list[str]:
        files = sorted(glob.glob(expand_env(self.spec.path or ""), recursive=True))
        if not files:
            raise SourceError(f"no files match {self.spec.path}")
        return files

    def _format(self, files: list[str]) -> str:
        if self.spec.format:
            return self.spec.format
        return "csv" if files[0].lower().endswith((".csv", ".csv.gz")) else "parquet"

    def _dataset(self) -> Any:
        import pyarrow.dataset as ds

        files = self._files()
        try:
            return ds.dataset(files, format=self._format(files))
        except Exception as exc:  # pyarrow raises ArrowInvalid, OSError, ...
            raise SourceError(f"cannot open {self.description}: {str(exc).splitlines()[0][:300]}") from None

    def _batches(self, columns: list[str] | None = None) -> Iterator[pd.DataFrame]:
        dataset = self._dataset()
        try:
            for batch in dataset.to_batches(columns=columns, batch_size=262_144):
                yield batch.to_pandas()
        except SourceError:
            raise
        except Exception as exc:
            raise SourceError(f"cannot read {self.description}: {str(exc).splitlines()[0][:300]}") from None

    def probe(self, task: Task | None, *, need_timestamp: bool = True) -> Layout:
        dataset = self._dataset()
        columns = list(dataset.schema.names)
        head = dataset.head(PROBE_ROWS).to_pandas()
        sample = {c: head[c].tolist() for c in columns}
        try:
            return layout_from_sample(columns, sample, self.spec.timestamp, task, need_timestamp=need_timestamp)
        except SourceError as exc:
            raise SourceError(f"{self.description}: {exc}") from None

    def _in_window(self, frame: pd.DataFrame, layout: Layout, window: Window | None) -> pd.DataFrame:
        if window is None:
            return frame
        ts = epoch_seconds(frame[layout.timestamp])
        mask = (ts >= window.start.timestamp()) & (ts < window.end.timestamp())
        return frame.loc[mask]

    def latest_timestamp(self, layout: Layout) -> datetime | None:
        best = -np.inf
        for frame in self._batches([layout.timestamp]):
            ts = epoch_seconds(frame[layout.timestamp])
            if ts.size and not np.all(np.isnan(ts)):
                best = max(best, float(np.nanmax(ts)))
        return None if best == -np.inf else datetime.fromtimestamp(best, tz=UTC)

    def frame(self, layout: Layout, window: Window | None, fraction: float = 1.0) -> pd.DataFrame:
        rng = np.random.default_rng()
        frames = [self._in_window(f, layout, window) for f in self._batches(None)]
        if fraction < 1.0:
            frames = [f.loc[rng.random(len(f)) < fraction] for f in frames]
        return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=list(layout.columns))

    def count(self, layout: Layout, window: Window | None) -> int:
        if window is None:
            return int(self._dataset().count_rows())
        return int(sum(len(self._in_window(f, layout, window)) for f in self._batches([layout.timestamp])))


# ---------------------------------------------------------------- opening


def open_source(spec: SourceSpec, engines: dict[str, Engine] | None = None) -> Source:
    """A `Source` for ``spec``; SQL engines are cached in ``engines`` (one pool per URL)."""
    if spec.path is not None:
        return FileSource(spec)
    try:
        url = normalize_url(expand_env(spec.url or ""))
    except MonitorConfigError as exc:
        raise SourceError(str(exc)) from None
    cache = engines if engines is not None else {}
    engine = cache.get(url)
    if engine is None:
        try:
            kwargs: dict[str, Any] = {"pool_pre_ping": True}
            if url.startswith("sqlite"):
                kwargs["connect_args"] = {"timeout": 30, "check_same_thread": False}
            engine = sa.create_engine(url, **kwargs)
        except Exception as exc:  # bad URL, unknown dialect, missing driver
            raise SourceError(f"cannot use source URL {redact_url(url)}: {exc}") from None
        cache[url] = engine
    return SqlSource(spec, engine)
