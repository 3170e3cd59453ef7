"""Score `diagnose --service` on the service scenario suite, against a real Prometheus.

    python -m benchmarks.service_scenarios.score [--quick] [--seeds 0,1] [--markdown] [--json FILE]

All scenarios are backfilled into one Prometheus (each under its own job labels), then each is
diagnosed through the Python API exactly as the CLI does it (series read with query_range, the
change log, the onset given or detected), and the first of each kind through the real
`mlresponder diagnose --service` CLI too. Scored: culprit (kind and name), trigger (the change
that started it, or none when none was recorded), false alarms on healthy days; beside it the
anchor, a BARO-style ranking (robust z of every series against the reference median/IQR, the
largest wins), which needs the onset and always names something.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from benchmarks.service_scenarios import generate as g
from benchmarks.service_scenarios.prom import backfill, serve
from diagnostics.log import ChangeRecord
from diagnostics.prometheus import read_series
from diagnostics.series import DependencySpec, SeriesSet, SeriesSpec, ServiceSpec, kind_for_key
from diagnostics.service_causes import CURRENT_S, GUARD_S, REFERENCE_S, diagnose_series
from diagnostics.strict_json import dumps

TARGETS = {"culprit": 0.90, "trigger": 1.0, "false_alarms": 0.0}
DETECT_WINDOW_S = 6 * 3600.0
STEP_S = 15.0


def spec_of(entry: dict[str, Any]) -> ServiceSpec:
    def series(metrics: dict[str, str]) -> tuple[SeriesSpec, ...]:
        return tuple(SeriesSpec(k, q, kind_for_key(k)) for k, q in metrics.items())

    return ServiceSpec(
        entry["name"],
        series(entry["metrics"]),
        tuple(DependencySpec(d["name"], series(d["metrics"])) for d in entry.get("dependencies", [])),
    )


def changes_of(sc: g.ServiceScenario) -> list[ChangeRecord]:
    return [ChangeRecord(c["timestamp"], c["kind"], c["service"], c["description"]) for c in sc.changes]


@dataclass
class Result:
    scenario: g.ServiceScenario
    mode: str  # "given" | "detected"
    kind: str
    name: str
    trigger: dict[str, Any] | None
    onset: float
    ms: float
    anchor: tuple[str, str] | None = None
    problems: tuple[str, ...] = ()

    @property
    def culprit_ok(self) -> bool:
        e = self.scenario.expected
        if e.culprit_kind == "none":
            return self.kind == "none"
        return (self.kind, self.name) == (e.culprit_kind, e.culprit_name)

    @property
    def trigger_ok(self) -> bool:
        want = self.scenario.expected.trigger
        if want is None or self.scenario.expected.culprit_kind == "none":
            return self.trigger is None
        return self.trigger is not None and all(
            abs(self.trigger["timestamp"] - want["timestamp"]) < 1.0 if k == "timestamp" else self.trigger[k] == want[k]
            for k in ("timestamp", "kind", "service")
        )

    @property
    def anchor_ok(self) -> bool:
        e = self.scenario.expected
        return self.anchor == (e.culprit_kind, e.culprit_name)


def window(sc: g.ServiceScenario, end: float, given: bool) -> tuple[float, float]:
    if given:
        return sc.onset - REFERENCE_S - GUARD_S, min(end, sc.onset + CURRENT_S)
    return end - DETECT_WINDOW_S, end


def baro_anchor(sset: SeriesSet, onset: float) -> tuple[str, str]:
    """BARO's RobustScorer: each series scaled by the reference median and IQR, the largest
    absolute value after the onset ranks first; its owner or key names the culprit."""
    before = sset.times < onset
    best, who = -1.0, ("none", "")
    for s in sset.series:
        ref = s.values[before & np.isfinite(s.values)]
        cur = s.values[~before & np.isfinite(s.values)]
        if ref.size < 8 or cur.size == 0:
            continue
        q1, med, q3 = np.percentile(ref, [25, 50, 75])
        iqr = q3 - q1 if q3 > q1 else 1e-9
        score = float(np.max(np.abs(cur - med)) / iqr)
        if score > best:
            best = score
            who = ("dependency", s.owner) if s.owner else (s.kind, s.key)
    return who


def run_one(sc: g.ServiceScenario, url: str, end: float, given: bool) -> Result:
    start, stop = window(sc, end, given)
    t0 = time.perf_counter()
    sset = read_series(spec_of(g.catalog_entry(sc)), url, start, stop, STEP_S)
    verdict = diagnose_series(sset, onset=sc.onset if given else None, changes=changes_of(sc))
    ms = (time.perf_counter() - t0) * 1000.0
    trig = None
    if verdict.trigger is not None:
        trig = {
            "timestamp": verdict.trigger.timestamp,
            "kind": verdict.trigger.kind,
            "service": verdict.trigger.service,
        }
    anchor = baro_anchor(sset, sc.onset) if given else None
    return Result(
        sc,
        "given" if given else "detected",
        verdict.culprit_kind,
        verdict.culprit_name,
        trig,
        verdict.onset,
        ms,
        anchor,
    )


def run_cli(sc: g.ServiceScenario, url: str, workdir: Path) -> dict[str, Any]:
    """The real CLI on one scenario (its catalog and change log written to files)."""
    catalog = workdir / f"{sc.id}-catalog.yaml"
    catalog.write_text(yaml.safe_dump({"services": [g.catalog_entry(sc)]}, sort_keys=False), encoding="utf-8")
    changes = workdir / f"{sc.id}-changes.jsonl"
    changes.write_text("".join(json.dumps(c) + "\n" for c in sc.changes), encoding="utf-8")
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    cmd = [
        sys.executable,
        "-m",
        "bot.cli",
        "diagnose",
        "--service",
        g.SERVICE,
        "--catalog",
        str(catalog),
        "--prometheus",
        url,
        "--changes",
        str(changes),
        "--format",
        "json",
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False)
    if proc.returncode != 0:
        return {"error": proc.stderr.strip()}
    return dict(json.loads(proc.stdout))


def summarize(results: list[Result]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for mode in ("given", "detected"):
        rs = [r for r in results if r.mode == mode]
        faults = [r for r in rs if r.scenario.kind != "healthy"]
        healthy = [r for r in rs if r.scenario.kind == "healthy"]
        with_trigger = [r for r in faults if r.scenario.expected.trigger is not None]
        per_kind: dict[str, list[Result]] = defaultdict(list)
        for r in rs:
            per_kind[r.scenario.kind].append(r)
        out[mode] = {
            "culprit": sum(r.culprit_ok for r in faults) / max(len(faults), 1),
            "trigger_when_recorded": sum(r.trigger_ok for r in with_trigger) / max(len(with_trigger), 1),
            "trigger_all": sum(r.trigger_ok for r in rs) / max(len(rs), 1),
            "false_alarms": sum(not r.culprit_ok for r in healthy),
            "healthy": len(healthy),
            "faults": len(faults),
            "median_ms": statistics.median(r.ms for r in rs) if rs else 0.0,
            "max_ms": max((r.ms for r in rs), default=0.0),
            "onset_error_min": statistics.median(abs(r.onset - r.scenario.onset) / 60 for r in faults) if faults else 0,
            "per_kind": {
                k: {
                    "n": len(v),
                    "culprit": sum(r.culprit_ok for r in v) / len(v),
                    "trigger": sum(r.trigger_ok for r in v) / len(v),
                    "anchor": sum(r.anchor_ok for r in v) / len(v) if mode == "given" and k != "healthy" else None,
                }
                for k, v in per_kind.items()
            },
        }
        if mode == "given":
            out[mode]["anchor_culprit"] = sum(r.anchor_ok for r in faults) / max(len(faults), 1)
            out[mode]["anchor_false_alarms"] = len(healthy)  # it always names a culprit
    return out


def markdown(summary: dict[str, Any]) -> str:
    lines = [
        "| onset | culprit | trigger (recorded) | trigger (all) | false alarms | median ms | max ms |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for mode, s in summary.items():
        lines.append(
            f"| {mode} | {s['culprit']:.1%} | {s['trigger_when_recorded']:.1%} | {s['trigger_all']:.1%} | "
            f"{s['false_alarms']} / {s['healthy']} | {s['median_ms']:.0f} | {s['max_ms']:.0f} |"
        )
    given = summary.get("given", {})
    if given:
        lines.append(
            f"| anchor (BARO-style, onset given) | {given['anchor_culprit']:.1%} | — | — | "
            f"{given['anchor_false_alarms']} / {given['healthy']} | | |"
        )
        lines += [
            "",
            "| kind | n | culprit (given) | culprit (detected) | trigger (given) | anchor |",
            "| --- | ---: | ---: | ---: | ---: | ---: |",
        ]
        det = summary.get("detected", {}).get("per_kind", {})
        for k, v in given["per_kind"].items():
            d = det.get(k, {})
            anchor = "—" if v["anchor"] is None else f"{v['anchor']:.0%}"
            lines.append(
                f"| {k} | {v['n']} | {v['culprit']:.0%} | {d.get('culprit', 0):.0%} | {v['trigger']:.0%} | {anchor} |"
            )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="one medium scenario per kind, two healthy")
    ap.add_argument("--seeds", default="0,1", help="comma-separated seeds per kind and strength")
    ap.add_argument("--healthy", type=int, default=12, help="healthy scenarios")
    ap.add_argument("--markdown", action="store_true")
    ap.add_argument("--json", help="write the summary and every result here")
    ap.add_argument("--no-cli", action="store_true", help="skip the CLI cross-check")
    ap.add_argument("--kinds", help="comma-separated scenario kinds to run (default: all)")
    args = ap.parse_args(argv)
    end = time.time()
    seeds = tuple(int(s) for s in args.seeds.split(","))
    scenarios = g.quick_suite(end) if args.quick else g.suite(end, seeds=seeds, healthy_seeds=args.healthy)
    if args.kinds:
        wanted = set(args.kinds.split(","))
        scenarios = [sc for sc in scenarios if sc.kind in wanted]
    with tempfile.TemporaryDirectory(prefix="svc-scenarios-") as tmp:
        t0 = time.perf_counter()
        data = backfill(g.openmetrics_lines(scenarios), Path(tmp) / "prom")
        print(f"{len(scenarios)} scenarios backfilled in {time.perf_counter() - t0:.1f} s", file=sys.stderr)
        results: list[Result] = []
        cli_checks: list[str] = []
        with serve(data) as url:
            seen: set[str] = set()
            for sc in scenarios:
                for given in (True, False):
                    r = run_one(sc, url, end, given)
                    results.append(r)
                    if not (r.culprit_ok and r.trigger_ok):
                        print(
                            f"MISS {sc.id} [{r.mode}]: got {r.kind}/{r.name} trigger={r.trigger}; "
                            f"expected {sc.expected.culprit_kind}/{sc.expected.culprit_name} "
                            f"trigger={sc.expected.trigger} problems={list(r.problems)[:1]}",
                            file=sys.stderr,
                        )
                if not args.no_cli and sc.kind not in seen:
                    seen.add(sc.kind)
                    got = run_cli(sc, url, Path(tmp))
                    api = next(r for r in results if r.scenario is sc and r.mode == "detected")
                    culprit = got.get("culprit", {})
                    agree = (culprit.get("kind"), culprit.get("name")) == (api.kind, api.name or "")
                    if not agree:
                        cli_checks.append(f"{sc.id}: CLI {got} vs API {api.kind}/{api.name}")
    summary = summarize(results)
    summary["cli_disagreements"] = cli_checks
    if args.json:
        Path(args.json).write_text(dumps(summary, indent=2), encoding="utf-8")
    if args.markdown:
        print(markdown({k: v for k, v in summary.items() if k in ("given", "detected")}))
    else:
        print(dumps(summary, indent=2))
    for c in cli_checks:
        print("CLI DISAGREES:", c, file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
