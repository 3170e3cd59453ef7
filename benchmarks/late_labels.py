"""Late labels: is a data fault or a bad version still localized when no label arrived after the onset?

    python -m benchmarks.late_labels [--per-kind 8] [--markdown] [--out DIR] [--kinds KIND ...]

Generates the data-fault, bad-version and confounded scenarios of the suite
(`benchmarks.scenarios`), withholds every label at or after the onset (in memory, after loading
the log as `mlresponder diagnose` does), and diagnoses each log twice: with the given onset and
with the onset detected. Prints the share localized (cause and culprit right) per kind, and how
many diagnoses reported an estimated performance figure (`performance` on estimated loss: a
learned loss, or the label model for class names) or judged a version on its estimated loss.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from benchmarks.scenarios.datasets import DATASETS
from benchmarks.scenarios.engine import load_changes
from benchmarks.scenarios.faults import FAULTS
from benchmarks.scenarios.generate import Scenario, Spec, generate_suite
from benchmarks.scenarios.judge import judge
from diagnostics import PredictionLog, diagnose
from diagnostics.log import Categorical

GROUPS = ("data", "model", "confounded")
#: kinds a label-free diagnosis is expected to localize (concept drift and segments need labels)
LABEL_FREE_KINDS = tuple(
    k for k, c in FAULTS.items() if c.group in GROUPS and k not in ("concept_drift", "underperforming_segment")
)


def withhold_labels(log: PredictionLog, onset: float) -> PredictionLog:
    """The same log with every label at or after `onset` not yet known."""
    if log.label is None:
        return log
    after = log.timestamp >= onset
    if isinstance(log.label, Categorical):
        codes = log.label.codes.copy()
        codes[after] = -1
        log.label = Categorical(codes, log.label.categories)
    else:
        label = log.label.copy()
        label[after] = np.nan
        log.label = label
    return log


@dataclass
class Result:
    scenario: Scenario
    localized: bool
    localized_detected: bool
    estimated: bool  # the performance figure is an estimate
    version_estimated: bool  # a new version was judged on its estimated loss
    answer: str


def run_one(scenario: Scenario) -> Result:
    from diagnostics.loader import load_log

    onset = scenario.onset.timestamp()
    log = withhold_labels(load_log(scenario.path_log), onset)
    reference = load_log(scenario.path_reference) if scenario.path_reference else None
    changes = load_changes(scenario.path_changes)
    given = diagnose(log, reference=reference, changes=changes, onset=onset)
    detected = diagnose(log, reference=reference, changes=changes)
    v1 = judge(scenario.expected, given.to_dict())
    v2 = judge(scenario.expected, detected.to_dict())
    estimated = any(f.check == "performance" and f.details.get("estimated") for f in given.findings)
    version_estimated = any(f.check == "version_change" and f.details.get("estimated") for f in given.findings)
    return Result(
        scenario,
        v1.cause and v1.culprit,
        v2.cause and v2.culprit,
        estimated,
        version_estimated,
        f"{given.cause}/{given.culprit_kind}/{given.culprit_name}",
    )


def specs(per_kind: int, kinds: Sequence[str] | None = None) -> list[Spec]:
    out = []
    for kind in kinds or LABEL_FREE_KINDS:
        n_variants = len(FAULTS[kind].variants)
        for j in range(per_kind):
            dataset = DATASETS[j % len(DATASETS)]
            out.append(Spec(kind, dataset, 100 + j, (j + j // len(DATASETS)) % n_variants))
    return out


def report(results: list[Result], markdown: bool) -> str:
    by_kind: dict[str, list[Result]] = defaultdict(list)
    for r in results:
        by_kind[r.scenario.kind].append(r)
    lines = []
    if markdown:
        lines += ["| kind | group | n | localized (given onset) | localized (detected onset) | estimated performance "
                  "| version on estimated loss |",
                  "| --- | --- | ---: | ---: | ---: | ---: | ---: |"]
    for kind, rs in by_kind.items():
        n = len(rs)
        a = sum(r.localized for r in rs) / n
        b = sum(r.localized_detected for r in rs) / n
        e = sum(r.estimated for r in rs)
        ev = sum(r.version_estimated for r in rs)
        group = rs[0].scenario.group
        if markdown:
            lines.append(f"| {kind} | {group} | {n} | {a:.0%} | {b:.0%} | {e}/{n} | {ev}/{n} |")
        else:
            lines.append(
                f"{kind:24s} {group:11s} n={n:3d} given={a:6.1%} detected={b:6.1%} estimated={e}/{n} version={ev}/{n}"
            )
    for group in GROUPS:
        rs = [r for r in results if r.scenario.group == group]
        if rs:
            a = sum(r.localized for r in rs) / len(rs)
            b = sum(r.localized_detected for r in rs) / len(rs)
            row = f"all {group}"
            lines.append(f"| **{row}** | | {len(rs)} | {a:.1%} | {b:.1%} | | |" if markdown
                         else f"{row:36s} n={len(rs):3d} given={a:6.1%} detected={b:6.1%}")
    misses = [r for r in results if not r.localized]
    if misses:
        lines.append("")
        lines.append("misses (given onset):")
        lines += [f"  {r.scenario.id}: expected {r.scenario.expected.cause}/{r.scenario.expected.culprit_kind}/"
                  f"{r.scenario.expected.culprit_name}, got {r.answer}" for r in misses]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--per-kind", type=int, default=8)
    parser.add_argument("--markdown", action="store_true")
    parser.add_argument("--out", type=Path)
    parser.add_argument("--kinds", nargs="*", choices=LABEL_FREE_KINDS, help="only these kinds")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        out = args.out or Path(tmp)
        scenarios = generate_suite(out, specs(args.per_kind, args.kinds))
        results = [run_one(s) for s in scenarios]
    print(report(results, args.markdown))
    return 0


if __name__ == "__main__":
    sys.exit(main())
