"""Reading a monitor's prediction log: SQL tables/queries and Parquet/CSV files, as window summaries.

SQL sources in ``aggregate`` mode send one aggregate query per window (plus one GROUP BY per
categorical column and one per model version): counts, ranges, moments and cumulative counts
at the reference's histogram edges are computed by the database, so the process never holds
the window's rows. ``load`` mode fetches the rows and summarizes them in numpy (the baseline).
File sources stream record batches through pyarrow and merge per-batch summaries.

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
from bot.monitors.loader import MonitorConfigError, expand_env
from bot.monitors.schema import SourceSpec
from bot.monitors.summary import (
    LATENCY_EDGES,
    NULL_KEY,
    TOP_CATEGORIES,
    Layout,
    NumericStats,
    Task,
    VersionStats,
    WindowSummary,
    cap_categories,
    epoch_seconds,
    fine_edges,
    merge,
    summarize_frame,
)
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

    def summarize(self, layout: Layout, window: Window | None, edges: dict[str, list[float]] | None) -> WindowSummary:
        raise NotImplementedError

    def latest_timestamp(self, layout: Layout) -> datetime | None:
        raise NotImplementedError

    def frame(self, layout: Layout, window: Window | None, fraction: float = 1.0) -> pd.DataFrame:
        """The window's rows, each kept with probability ``fraction`` (drawn where the data is)."""
        raise NotImplementedError

    def close(self) -> None:
        pass

    def summarize_reference(
        self, layout: Layout, window: Window | None
    ) -> tuple[WindowSummary, dict[str, list[float]]]:
        """Reference summary plus the histogram edges it defines (its range, per numeric feature)."""
        first = self.summarize(layout, window, None)
        edges = {name: fine_edges(st.min, st.max) for name, st in first.numeric.items() if st.count}
        if not edges:
            return first, {}
        second = self.summarize(layout, window, edges)
        for name, st in second.numeric.items():
            first.numeric[name].cum = st.cum
            first.numeric[name].below = st.below
        return first, edges


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

    def summarize(self, layout: Layout, window: Window | None, edges: dict[str, list[float]] | None) -> WindowSummary:
        try:
            with self.engine.connect() as conn:
                if self.spec.mode == "load":
                    return self._load(conn, layout, window, edges)
                return self._aggregate(conn, layout, window, edges)
        except sa.exc.SQLAlchemyError as exc:
            raise self._fail(exc, "aggregate" if self.spec.mode == "aggregate" else "load") from None

    def _load(self, conn: sa.Connection, layout: Layout, window: Window | None,
              edges: dict[str, list[float]] | None) -> WindowSummary:
        stmt = sa.select(sa.text("*")).select_from(self._from()).where(*self._where(layout, window))
        frame = pd.read_sql(stmt, conn)
        return cap_categories(summarize_frame(frame, layout, edges or {}))

    def frame(self, layout: Layout, window: Window | None, fraction: float = 1.0) -> pd.DataFrame:
        where = self._where(layout, window)
        if fraction < 1.0:
            where.append(self._sample(fraction))
        stmt = sa.select(sa.text("*")).select_from(self._from()).where(*where)
        try:
            with self.engine.connect() as conn:
                return pd.read_sql(stmt, conn)
        except sa.exc.SQLAlchemyError as exc:
            raise self._fail(exc, "load") from None

    def _sample(self, fraction: float) -> Any:
        """A Bernoulli row filter evaluated by the database (only the kept rows travel)."""
        if self.engine.dialect.name == "sqlite":  # random(): a signed 64-bit integer
            return sa.func.abs(sa.func.random() % 1_000_000) < int(fraction * 1_000_000)
        return sa.func.random() < fraction  # PostgreSQL and most others: uniform on [0, 1)

    def _aggregate(self, conn: sa.Connection, layout: Layout, window: Window | None,
                   edges: dict[str, list[float]] | None) -> WindowSummary:
        """Moments and counts in one scan, then one GROUP BY per histogram and per categorical column.

        Histograms group rows by their bin, found by a binary tree of CASE comparisons (about
        log2(bins) comparisons per row instead of one SUM(CASE ...) per edge): exact, portable SQL,
        and an order of magnitude cheaper than evaluating every edge on every row.
        """
        where = self._where(layout, window)
        src = self._from()
        cols: list[Any] = [sa.func.count().label("rows")]
        for name in layout.numeric:
            c = _col(name)
            cols += [sa.func.count(c), sa.func.min(c), sa.func.max(c), sa.func.sum(c), sa.func.sum(c * c)]
        if layout.has_latency:
            cols.append(sa.func.count(_col("latency_ms")))
        if layout.error_kind != "none":
            err = _col("error")
            flag = {"bool": err, "numeric": err != 0,
                    "text": sa.func.lower(err).in_(["1", "true", "t", "yes", "1.0"])}[layout.error_kind]
            cols += [sa.func.count(err), sa.func.sum(sa.case((flag, 1), else_=0))]
        row = list(conn.execute(sa.select(*cols).select_from(src).where(*where)).one())
        out = WindowSummary(rows=int(row.pop(0)))
        wanted: dict[str, tuple[Any, list[float]]] = {}
        for name in layout.numeric:
            count, lo, hi, total, sumsq = row[:5]
            del row[:5]
            st = NumericStats(count=int(count or 0), nulls=out.rows - int(count or 0),
                              min=None if lo is None else float(lo), max=None if hi is None else float(hi),
                              sum=float(total or 0.0), sumsq=float(sumsq or 0.0))
            e = (edges or {}).get(name)
            if e:
                st.cum = [0] * len(e)
                if st.count:
                    wanted[name] = (_col(name), e)
            out.numeric[name] = st
        if layout.has_latency:
            out.latency_count = int(row.pop(0) or 0)
            out.latency_cum = [0] * len(LATENCY_EDGES)
            if out.latency_count:
                wanted["\x00latency"] = (_col("latency_ms"), list(LATENCY_EDGES))
        for name, (below, cum) in self._cumulative(conn, src, where, wanted).items():
            if name == "\x00latency":
                out.latency_cum = cum
            else:
                out.numeric[name].below, out.numeric[name].cum = below, cum
        if layout.error_kind != "none":
            out.error_count, out.errors = int(row[0] or 0), int(row[1] or 0)
        for name in layout.categorical:
            c = _col(name)
            stmt = (sa.select(c, sa.func.count()).select_from(src).where(*where).group_by(c)
                    .order_by(sa.func.count().desc(), c).limit(TOP_CATEGORIES))
            out.categorical[name] = {
                (NULL_KEY if value is None else _text(value)): int(n) for value, n in conn.execute(stmt)
            }
        out.versions = self._versions(conn, layout, src, where)
        return out

    @staticmethod
    def _cumulative(conn: sa.Connection, src: Any, where: list[Any],
                    columns: dict[str, tuple[Any, list[float]]]) -> dict[str, tuple[int, list[int]]]:
        """Per column: (count below its first edge, count <= each edge), from one UNION ALL statement.

        Each member groups the rows by a bin index (the number of edges strictly below the value,
        found by a binary tree of CASE comparisons); one statement for all columns saves a round
        trip and a statement compilation per column.
        """
        if not columns:
            return {}
        names = list(columns)
        members = []
        for i, name in enumerate(names):
            col, edges = columns[name]
            params = [sa.bindparam(f"e{i}_{k}", x, type_=sa.Float) for k, x in enumerate(edges)]

            def tree(lo: int, hi: int, col: Any = col, params: list[Any] = params) -> Any:
                if lo == hi:
                    return sa.literal(lo)
                mid = (lo + hi) // 2
                return sa.case((col <= params[mid], tree(lo, mid)), else_=tree(mid + 1, hi))

            below = sa.literal(len(edges) + 1)  # a sentinel bin for values under the first edge
            index = sa.case((col.is_(None), sa.null()), (col < params[0], below), else_=tree(0, len(edges)))
            members.append(sa.select(sa.literal(i, type_=sa.Integer).label("col"), index.label("bin"),
                                     sa.func.count().label("n")).select_from(src).where(*where).group_by(index))
        counts = {name: np.zeros(len(columns[name][1]) + 2, dtype=np.int64) for name in names}
        statement = members[0] if len(members) == 1 else sa.union_all(*members)
        for i, b, n in conn.execute(statement):
            if b is not None:
                counts[names[int(i)]][int(b)] += int(n)
        out: dict[str, tuple[int, list[int]]] = {}
        for name, c in counts.items():
            k = len(columns[name][1])
            n_below = int(c[k + 1])
            out[name] = (n_below, [int(x) for x in n_below + np.cumsum(c[:k])])
        return out

    def _versions(self, conn: sa.Connection, layout: Layout, src: Any, where: list[Any]) -> dict[str, VersionStats]:
        key = _col("model_version") if layout.has_version else sa.literal("all")
        cols: list[Any] = [key, sa.func.count()]
        if layout.has_label:
            label, pred = _col("label"), _col("prediction")
            both = sa.and_(label.is_not(None), pred.is_not(None))
            if layout.task == "classification":
                cols += [sa.func.count(label),
                         sa.func.sum(sa.case((sa.and_(both, sa.cast(label, sa.String) == sa.cast(pred, sa.String)),
                                              1), else_=0)),
                         sa.func.sum(sa.case((both, 1), else_=0)), sa.literal(0.0), sa.literal(0.0)]
            else:
                diff = label - pred
                cols += [sa.func.count(label), sa.literal(0), sa.func.sum(sa.case((both, 1), else_=0)),
                         sa.func.sum(sa.func.abs(diff)), sa.func.sum(diff * diff)]
        stmt = sa.select(*cols).select_from(src).where(*where)
        if layout.has_version:
            stmt = stmt.group_by(key)
        out: dict[str, VersionStats] = {}
        for r in conn.execute(stmt):
            if int(r[1] or 0) == 0:
                continue
            st = VersionStats(rows=int(r[1]))
            if layout.has_label:
                st.labelled, st.correct, st.pairs = int(r[2] or 0), int(r[3] or 0), int(r[4] or 0)
                st.abs_err, st.sq_err = float(r[5] or 0.0), float(r[6] or 0.0)
            out[_text(r[0])] = st
        return out


def _col(name: str) -> sa.ColumnClause[Any]:
    return sa.column(name)


def _text(value: Any) -> str:
    """Category keys as the numpy path writes them (``str`` of the Python value)."""
    return str(value)


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

    def _needed(self, layout: Layout, window: Window | None) -> list[str]:
        cols = [*layout.numeric, *layout.categorical]
        cols += [c for c in ("model_version", "prediction", "label", "latency_ms", "error") if c in layout.columns]
        if window is not None:
            cols.append(layout.timestamp)
        return list(dict.fromkeys(cols))

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

    def summarize(self, layout: Layout, window: Window | None, edges: dict[str, list[float]] | None) -> WindowSummary:
        cols = self._needed(layout, window)
        if self.spec.mode == "load":
            frames = [self._in_window(f, layout, window) for f in self._batches(cols)]
            frame = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=cols)
            return cap_categories(summarize_frame(frame, layout, edges or {}))
        total = WindowSummary()
        for frame in self._batches(cols):
            total = merge(total, summarize_frame(self._in_window(frame, layout, window), layout, edges or {}))
        return cap_categories(total)


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
