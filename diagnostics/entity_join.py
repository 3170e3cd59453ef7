"""A per-entity attribute joined from other entities since the onset.

A user's lifetime value, a merchant's risk tier, a meter's rated power are joined to each
request by the entity's key. A join that slips by one entity (keys shifted by one row of the
dimension table, an off-by-one in a feature pipeline) hands every entity another entity's value:
the column's distribution stays what it was, each entity's consecutive requests still agree with
each other, and with labels withheld nothing else moves. What shows it is the entity's value
across the onset: the last value an entity carried before it and the first after it differ for
nearly every entity, while at a placebo split inside the reference (its middle, the same kind of
gap between two requests of one entity) they agree as often as consecutive requests always did.
"""

from __future__ import annotations

import numpy as np

from diagnostics.context import Context
from diagnostics.findings import Finding
from diagnostics.log import Categorical, align_categorical
from diagnostics.stats import two_proportion_se

MIN_ENTITIES = 200  # entities with requests on both sides of the split
MIN_HELD = 0.9  # at the placebo split, this share of entities kept their value (a per-entity attribute)
MIN_DROP = 0.3  # across the onset, this many fewer did
MIN_Z = 8.0
MIN_INFLUENCE = 0.05  # a column the model does not read is no cause of its errors
MAX_COLUMNS = 12


def _last_and_first(codes_a: np.ndarray, codes_b: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per entity present on both sides: the index of its last row in `a` and its first row in `b`."""
    last = np.full(k, -1, dtype=np.int64)
    ok = codes_a >= 0
    np.maximum.at(last, codes_a[ok], np.flatnonzero(ok))
    first = np.full(k, codes_b.shape[0], dtype=np.int64)
    ok = codes_b >= 0
    np.minimum.at(first, codes_b[ok], np.flatnonzero(ok))
    both = np.flatnonzero((last >= 0) & (first < codes_b.shape[0]))
    return both, last[both], first[both]


def entity_join_findings(ctx: Context, clock_inputs: set[str] | frozenset[str] = frozenset()) -> list[Finding]:
    ref, cur = ctx.reference, ctx.current
    r_ts = ref.timestamp
    if r_ts.size == 0 or float(r_ts[0]) < float(ctx.log.timestamp[0]) or float(r_ts[-1]) > ctx.onset:
        return []  # an entity's requests before the onset are only known on the log's own rows
    names = [
        k for k, v in ref.features.items()
        if k not in clock_inputs and not isinstance(v, Categorical) and not isinstance(cur.features.get(k), Categorical)
        and k in cur.features and ctx.influence.get(k, 0.0) >= MIN_INFLUENCE
    ]
    names = sorted(names, key=lambda k: ctx.influence_raw.get(k, 0.0), reverse=True)[:MAX_COLUMNS]
    if not names:
        return []
    # on the windows' row samples (time-ordered): an attribute held per entity is held by every
    # request of it, sampled or not, and a large log costs no more than a sample
    r_idx, c_idx = np.sort(ctx.ref_sample), np.sort(ctx.cur_sample)
    mid = int(np.searchsorted(r_ts[r_idx], 0.5 * (float(r_ts[0]) + float(r_ts[-1]))))
    out: list[Finding] = []
    for ent, r_col in ref.features.items():
        c_col = cur.features.get(ent)
        if not isinstance(r_col, Categorical) or not isinstance(c_col, Categorical):
            continue
        r_codes, c_codes, cats = align_categorical(r_col.take(r_idx), c_col.take(c_idx))
        k = len(cats)
        across, r_last, c_first = _last_and_first(r_codes, c_codes, k)
        placebo, p_last, p_first = _last_and_first(r_codes[:mid], r_codes[mid:], k)
        if across.size < MIN_ENTITIES or placebo.size < MIN_ENTITIES:
            continue
        for name in names:
            rv = np.asarray(ref.features[name], dtype=np.float64)[r_idx]
            cv = np.asarray(cur.features[name], dtype=np.float64)[c_idx]
            held_placebo = float(np.mean(rv[p_last] == rv[mid:][p_first]))
            held_across = float(np.mean(rv[r_last] == cv[c_first]))
            drop = held_placebo - held_across
            z = drop / two_proportion_se(held_placebo, placebo.size, held_across, across.size)
            if held_placebo < MIN_HELD or drop < MIN_DROP or z < MIN_Z:
                continue
            influence = ctx.influence.get(name, 0.0)
            mag = float(np.clip((drop - 0.1) / 0.4, 0.0, 1.0))
            out.append(Finding(
                "data", "stale_values", name, max(mag * (0.3 + 0.7 * influence), 0.4 * mag),
                f"Feature '{name}' changed for {1.0 - held_across:.0%} of the {across.size} {ent} values seen on "
                f"both sides of the onset, where {held_placebo:.0%} kept it across the middle of the reference: a "
                f"value joined per {ent} now comes from other {ent} rows (a join off by a key).",
                {"change": "joined_from_other_entities", "entity": ent, "held_reference": held_placebo,
                 "held_across_onset": held_across, "entities": int(across.size), "z": z, "influence": influence},
            ))
    return out
