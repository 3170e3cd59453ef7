"""How much evidence a small canary's rows can carry, counted in the inputs they repeat.

    python -m benchmarks.canary_evidence [--harmless-seeds 5 77 301 640]

The scenario suite resamples its traffic from a small held-out pool (60-690 rows, 5% jitter), so
a canary's rows are repeated draws of a few hundred pool items, and a version that is worse on
one item is worse on every copy of it. Two versions that answer the same item differently are
one unit of evidence, however many rows repeat it. For each version this prints, on the
traffic the simulation serves (`simulate.served_loss`: 30 jittered copies of the pool), the
share of traffic where it is wrong and production right ("against") or the reverse ("for"),
the pool items that carry it, and for the canary's rows in the suite's log: the expected
discordant rows and the expected distinct items among them. The exact sign test over distinct
items cannot pass a one-sided 1% bar with fewer than 7 items all against the version (2^-7 =
0.78%); a canary that shows 3-4 items cannot be told from a harmless retrain at that budget,
whichever statistic is computed from its rows.
"""

from __future__ import annotations

import argparse
import tempfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from scipy import stats

from benchmarks.scenarios.curve import ROWS_PER_MINUTE
from benchmarks.scenarios.datasets import broken_model, load_source, production_model
from benchmarks.scenarios.faults import harmless_retrain
from benchmarks.scenarios.generate import generate_scenario
from benchmarks.scenarios.simulate import SERVED_COPIES, _served_pool
from diagnostics.loader import load_log

#: the suite's three 10% canaries that stay unlocalized with labels withheld (`curve --labels-withheld`)
CANARIES = (
    ("breast_cancer_rare", "label_noise:0.3"),
    ("breast_cancer_rare", "label_noise"),
    ("iris", "label_noise:0.3"),
)
SEED = 7000  # the curve's first seed (split 1)
ITEMS_FOR_ONE_PERCENT = 7  # all against: 2^-7 = 0.78% one-sided


def item_discordance(name: str, split: int, model: object) -> tuple[int, np.ndarray, np.ndarray]:
    """Per pool item, the share of its served copies where `model` is wrong and production right
    (against) and where it is right and production wrong (for)."""
    x, y = _served_pool(name, split)
    n_pool = len(load_source(name, split).pool_x)
    base = production_model(name, split, 0).predict(x).astype(str)
    pred = model.predict(x).astype(str)  # type: ignore[attr-defined]
    y = y.astype(str)
    item = np.tile(np.arange(n_pool), SERVED_COPIES)
    against = np.bincount(item, weights=(pred != y) & (base == y), minlength=n_pool) / SERVED_COPIES
    favour = np.bincount(item, weights=(pred == y) & (base != y), minlength=n_pool) / SERVED_COPIES
    return n_pool, against, favour


def canary_rows(name: str, flaw: str, folder: Path) -> int:
    """Rows the 10% canary served in the suite's log (`bad_version_silent`, seed 7000)."""
    sc = generate_scenario(
        "bad_version_silent",
        SEED,
        name,
        folder,
        rows_per_minute=ROWS_PER_MINUTE,
        fmt="parquet",
        labels_withheld=True,
        strength=(flaw, 0.1),
    )
    log = load_log(sc.path_log)
    mv = log.model_version
    bad = str(sc.truth["bad_version"])
    return int(np.sum(mv.categories[mv.codes[mv.codes >= 0]] == bad))  # type: ignore[union-attr]


def line(label: str, n_pool: int, against: np.ndarray, favour: np.ndarray, rows: int) -> str:
    per_item = rows / n_pool  # canary rows per pool item
    seen_a = float(np.sum(1.0 - np.exp(-against * per_item)))  # Poisson: items drawn at least once discordant
    seen_f = float(np.sum(1.0 - np.exp(-favour * per_item)))
    a, f = round(seen_a), round(seen_f)
    split_p = float(stats.binom.sf(a - 1, a + f, 0.5)) if a else 1.0  # exact sign test, expected split
    return (
        f"| {label} | {n_pool} | {against.mean():.2%} on {int(np.sum(against > 0))} | {favour.mean():.2%} on "
        f"{int(np.sum(favour > 0))} | {rows} | {against.mean() * rows:.1f} / {favour.mean() * rows:.1f} | "
        f"{seen_a:.1f} / {seen_f:.1f} | {a} of {a + f}: {split_p:.3g} | {0.5**a:.3g} |"
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--harmless-seeds", type=int, nargs="*", default=[5, 77, 301, 640])
    args = parser.parse_args(argv)
    split = SEED % 3
    print(
        "| version | pool items | traffic against (items) | traffic for (items) | canary rows | expected discordant "
        "rows against / for | expected distinct items against / for | exact sign test on items, expected split | "
        "p if no item goes for |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory(prefix="mlresponder-canary-") as tmp:
        for i, (name, flaw) in enumerate(CANARIES):
            rows = canary_rows(name, flaw, Path(tmp) / f"c{i}")
            n_pool, against, favour = item_discordance(name, split, broken_model(name, split, flaw))
            print(line(f"{name} {flaw} (10% canary)", n_pool, against, favour, rows))
            if i + 1 < len(CANARIES) and CANARIES[i + 1][0] == name:
                continue
            for seed in args.harmless_seeds:  # harmless retrains at the same canary size
                model = harmless_retrain(load_source(name, split), split, seed)
                n_pool, against, favour = item_discordance(name, split, model)
                print(line(f"{name} harmless retrain (seed {seed})", n_pool, against, favour, rows))
    print(
        f"\nA one-sided 1% sign test needs {ITEMS_FOR_ONE_PERCENT} distinct items, all against the version "
        f"(2^-{ITEMS_FOR_ONE_PERCENT} = {0.5**ITEMS_FOR_ONE_PERCENT:.2%})."
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
