"""Canary judges side by side on the same simulated traffic: raygate's anytime-valid judge, a
Kayenta-style fixed-horizon Mann-Whitney judge and Flagger-style static thresholds.

Each simulated release sends windows of traffic (one per analysis interval) with the canary
at 5 %; all three judges look at the same windows after each one and stop at their own
decision. Scenarios: A/A (no difference) and four regressions of the canary. Seeded; no Ray.

Usage: python benchmarks/judge_power.py [--quick] [--releases N] [--seed S]
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from dataclasses import dataclass, field
from multiprocessing import Pool
from pathlib import Path

import numpy as np
from scipy.stats import norm

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from raygate.canary import steps  # noqa: E402
from raygate.canary.judge import JudgeState, judge, observe  # noqa: E402
from raygate.canary.observations import VariantWindow, WindowPair  # noqa: E402
from raygate.canary.plan import make_plan  # noqa: E402
from raygate.canary.policy import RolloutPolicy, load_rollout_policy  # noqa: E402
from raygate.canary.simulate import Traffic, window_pair  # noqa: E402
from raygate.sketch import LogHistogram  # noqa: E402

SCHEMA_VERSION = 1
SHARE = 0.05
REQUESTS_PER_WINDOW = 2400  # 40 req/s for a 60-s analysis interval: ~120 canary requests
HORIZON_WINDOWS = 120  # two hours: the fixed horizon, and raygate's timeout
BASELINE = Traffic()
SCENARIOS = {
    "aa": BASELINE,
    "error_rate_1_to_2pct": BASELINE.regressed("error_rate", 2.0),
    "latency_p95_plus_25pct": BASELINE.regressed("latency_ms", 1.25),
    "safety_blocks_0.5_to_2pct": BASELINE.regressed("safety_block_rate", 4.0),
    "cost_plus_30pct": BASELINE.regressed("cost_usd", 1.3),
}
# Kayenta-style: Mann-Whitney, two-sided at confidence 0.98, effect tolerance 0.25, at least
# 50 canary samples, judged on all data so far once per interval; promotes at the horizon.
KAYENTA_CONFIDENCE = 0.98
KAYENTA_TOLERANCE = 0.25
KAYENTA_MIN_SAMPLES = 50
# Flagger-style: each interval's canary figures against static thresholds set at the
# champion's true baseline times raygate's effect sizes; 5 failed checks roll back
# (Flagger's `threshold`), 10 clean-enough intervals promote (`iterations`).
FLAGGER_THRESHOLD = 5
FLAGGER_ITERATIONS = 10


def benchmark_policy() -> RolloutPolicy:
    """The shipped policy's metrics and error budgets, one step at 5 %, the same horizon."""
    shipped = load_rollout_policy(ROOT / "policies" / "rollout.yaml")
    return shipped.model_copy(
        update={
            "steps": [
                shipped.steps[0].model_copy(
                    update={"weight_percent": 5.0, "min_duration_s": 0, "min_canary_requests": 0}
                )
            ],
            "timeout_s": 60.0 * HORIZON_WINDOWS,
            "limits": shipped.limits.model_copy(update={"inconclusive_limit": HORIZON_WINDOWS}),
            "analysis_interval_s": 60.0,
        }
    )


@dataclass
class Outcome:
    decision: str | None = None  # promote | rollback | inconclusive
    canary_requests: int = 0


@dataclass
class RaygateJudge:
    policy: RolloutPolicy
    state: JudgeState = field(default_factory=JudgeState)
    rollout: steps.RolloutState = field(default_factory=lambda: steps.start(0.0))

    def look(self, window: WindowPair, now: float) -> str | None:
        metrics = self.policy.judged_metrics()
        self.state = observe(self.state, window, metrics)
        self.rollout, decision = steps.next_decision(
            self.policy, self.rollout, judge(self.state, metrics), now
        )
        return {
            steps.Action.PROMOTE: "promote",
            steps.Action.AWAIT_APPROVAL: "promote",
            steps.Action.ROLLBACK: "rollback",
            steps.Action.HALT: "inconclusive",
        }.get(decision.action)


def _binary_counts(events: int, total: int) -> np.ndarray:
    return np.array([total - events, events], float)


def _aligned(a: LogHistogram, b: LogHistogram) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Both histograms on one bucket range (zero bucket first) and each bucket's midpoint."""
    low = min(a.offset, b.offset)
    high = max(a.offset + a.counts.size, b.offset + b.counts.size)
    out = []
    for h in (a, b):
        dense = np.zeros(high - low + 1)
        dense[0] = h.zero
        dense[1 + h.offset - low : 1 + h.offset - low + h.counts.size] = h.counts
        out.append(dense)
    mids = np.concatenate([[0.0], 2 ** ((np.arange(low, high) - 0.5) / 32)])
    return out[0], out[1], mids


def mann_whitney_p(canary: np.ndarray, champion: np.ndarray, values: np.ndarray) -> float:
    """Kayenta-style: the two-sided Mann-Whitney p-value (normal approximation, tie-corrected)
    when the canary is higher and its mean exceeds the champion's by more than the tolerance,
    else 1 (not 'High')."""
    n1, n2 = canary.sum(), champion.sum()
    if n1 < KAYENTA_MIN_SAMPLES or n2 == 0:
        return 1.0
    below = np.cumsum(champion) - champion
    u = float(np.sum(canary * (below + 0.5 * champion)))
    ties = canary + champion
    total = n1 + n2
    variance = n1 * n2 / 12 * ((total + 1) - np.sum(ties**3 - ties) / (total * (total - 1)))
    if variance <= 0:
        return 1.0
    z = (u - n1 * n2 / 2) / math.sqrt(variance)
    mean_c = float(np.sum(canary * values) / n1)
    mean_0 = float(np.sum(champion * values) / n2)
    if z <= 0 or mean_c <= mean_0 * (1 + KAYENTA_TOLERANCE):
        return 1.0
    return float(2 * norm.sf(z))


@dataclass
class KayentaJudge:
    """Looks at every window up to the horizon and records, per look, the smallest 'High'
    p-value over the metrics: a rollback at confidence c is the first look below 1 - c."""

    totals: WindowPair = field(default_factory=WindowPair)
    p_values: list[float] = field(default_factory=list)

    def look(self, window: WindowPair) -> None:
        self.totals = WindowPair(
            self.totals.canary.merge(window.canary), self.totals.champion.merge(window.champion)
        )
        c, b = self.totals.canary, self.totals.champion
        p_values = [
            mann_whitney_p(
                _binary_counts(getattr(c, counter), c.requests),
                _binary_counts(getattr(b, counter), b.requests),
                np.array([0.0, 1.0]),
            )
            for counter in ("errors", "safety_blocks", "refusals")
        ]
        p_values += [
            mann_whitney_p(*_aligned(getattr(c, sketch), getattr(b, sketch)))
            for sketch in ("latency_ms", "cost_usd")
        ]
        self.p_values.append(min(p_values))


@dataclass
class FlaggerJudge:
    failed_checks: int = 0
    looks: int = 0

    def look(self, window: WindowPair, now: float) -> str | None:
        self.looks += 1
        if not self._passes(window.canary):
            self.failed_checks += 1
        if self.failed_checks >= FLAGGER_THRESHOLD:
            return "rollback"
        return "promote" if self.looks >= FLAGGER_ITERATIONS else None

    @staticmethod
    def _passes(canary: VariantWindow) -> bool:
        if canary.requests == 0:
            return True
        base = BASELINE
        latency_p95 = canary.latency_ms.quantile(0.95) or 0.0
        cost_p50 = canary.cost_usd.quantile(0.5) or 0.0
        return (
            canary.errors / canary.requests <= base.error_rate * 1.5
            and canary.safety_blocks / canary.requests <= base.safety_block_rate * 2.0
            and canary.refusals / canary.requests <= base.refusal_rate * 1.5
            and latency_p95 <= true_p95_latency() * 1.2
            and cost_p50 <= BASELINE.cost_usd_p50 * 1.2
        )


_P95_CACHE: dict[str, float] = {}


def true_p95_latency() -> float:
    """The champion's true p95 latency (of the heavy-tailed mixture), from its buckets."""
    if "p95" not in _P95_CACHE:
        from raygate.canary.simulate import bucket_probabilities

        first, probs = bucket_probabilities(BASELINE.latency_ms_p50, BASELINE.latency_ms_p95)
        index = int(np.searchsorted(np.cumsum(probs), 0.95))
        _P95_CACHE["p95"] = 2 ** ((first + index) / 32)
    return _P95_CACHE["p95"]


def simulate_release(args: tuple[str, int]) -> dict[str, object]:
    """One release of one scenario: raygate's and Flagger's decisions with the canary
    requests seen then, and the Kayenta-style judge's p-value at every look."""
    scenario, seed = args
    rng = np.random.default_rng(seed)
    raygate, kayenta, flagger = RaygateJudge(benchmark_policy()), KayentaJudge(), FlaggerJudge()
    outcomes = {"raygate": Outcome(), "flagger": Outcome()}
    seen: list[int] = []
    for look in range(1, HORIZON_WINDOWS + 1):
        window = window_pair(BASELINE, SCENARIOS[scenario], REQUESTS_PER_WINDOW, SHARE, rng)
        seen.append((seen[-1] if seen else 0) + window.canary.requests)
        kayenta.look(window)
        for name, judge_ in (("raygate", raygate), ("flagger", flagger)):
            if outcomes[name].decision is None:
                decision = judge_.look(window, 60.0 * look)
                if decision is not None:
                    outcomes[name] = Outcome(decision, seen[-1])
    result: dict[str, object] = {
        name: (o.decision or "inconclusive", o.canary_requests or seen[-1])
        for name, o in outcomes.items()
    }
    result["kayenta_p"] = kayenta.p_values
    result["seen"] = seen
    return result


def kayenta_decisions(rows: list[dict], threshold: float) -> list[tuple[str, int]]:
    """The Kayenta-style judge at one p-value threshold: rollback at the first look below it,
    promote at the horizon."""
    out = []
    for row in rows:
        below = np.nonzero(np.asarray(row["kayenta_p"]) < threshold)[0]
        if below.size:
            out.append(("rollback", row["seen"][int(below[0])]))
        else:
            out.append(("promote", row["seen"][-1]))
    return out


def calibrated_threshold(aa_rows: list[dict], false_rollback: float) -> float:
    """The per-look p-value threshold at which the Kayenta-style judge rolls back A/A
    releases no more often than `false_rollback` (its smallest p over looks, per release)."""
    minima = np.sort([min(row["kayenta_p"]) for row in aa_rows])
    allowed = math.floor(false_rollback * len(minima))
    return float(minima[allowed]) if allowed < len(minima) else 1.0


def _figures(decisions: list[tuple[str, int]]) -> dict[str, float]:
    kinds = [d for d, _ in decisions]
    return {
        "rollback_rate": kinds.count("rollback") / len(kinds),
        "promote_rate": kinds.count("promote") / len(kinds),
        "inconclusive_rate": kinds.count("inconclusive") / len(kinds),
        "median_canary_requests": float(np.median([n for _, n in decisions])),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="100 releases per scenario")
    parser.add_argument("--releases", type=int, default=None, help="releases per scenario")
    parser.add_argument("--seed", type=int, default=20261128)
    args = parser.parse_args()
    releases = args.releases or (100 if args.quick else 1000)
    started = time.perf_counter()
    jobs = [(s, args.seed + i * 7919 + k) for k, s in enumerate(SCENARIOS) for i in range(releases)]
    with Pool(2) as pool:
        results = pool.map(simulate_release, jobs, chunksize=8)
    by_scenario = {
        s: [r for (t, _), r in zip(jobs, results, strict=True) if t == s] for s in SCENARIOS
    }
    calibrated = calibrated_threshold(by_scenario["aa"], 0.05)
    judges = {
        "raygate": lambda rows: [r["raygate"] for r in rows],
        "kayenta": lambda rows: kayenta_decisions(rows, 1 - KAYENTA_CONFIDENCE),
        "kayenta_calibrated": lambda rows: kayenta_decisions(rows, calibrated),
        "flagger": lambda rows: [r["flagger"] for r in rows],
    }
    figures = {
        name: {s: _figures(decide(rows)) for s, rows in by_scenario.items()}
        for name, decide in judges.items()
    }
    pooled = {
        name: float(np.median([n for rows in by_scenario.values() for _, n in decide(rows)]))
        for name, decide in judges.items()
    }
    for name, per in figures.items():
        print(f"{name}:", file=sys.stderr)
        for scenario, f in per.items():
            print(
                f"  {scenario:<28} rollback {f['rollback_rate']:.3f}  promote "
                f"{f['promote_rate']:.3f}  inconclusive {f['inconclusive_rate']:.3f}  median "
                f"canary requests {f['median_canary_requests']:.0f}",
                file=sys.stderr,
            )
    regressions = [s for s in SCENARIOS if s != "aa"]

    def detection_min(name: str) -> float:
        return min(figures[name][s]["rollback_rate"] for s in regressions)

    summary = {
        "schema_version": SCHEMA_VERSION,
        "releases_per_scenario": releases,
        "canary_share": SHARE,
        "canary_requests_per_look": REQUESTS_PER_WINDOW * SHARE,
        "horizon_canary_requests": REQUESTS_PER_WINDOW * SHARE * HORIZON_WINDOWS,
        "aa_false_rollback_rate": figures["raygate"]["aa"]["rollback_rate"],
        "aa_promote_rate": figures["raygate"]["aa"]["promote_rate"],
        "detection_rate_min": detection_min("raygate"),
        "detection_rate": {s: figures["raygate"][s]["rollback_rate"] for s in regressions},
        "kayenta_aa_false_rollback_rate": figures["kayenta"]["aa"]["rollback_rate"],
        "kayenta_detection_rate_min": detection_min("kayenta"),
        "kayenta_calibrated_p_threshold": calibrated,
        "kayenta_calibrated_aa_false_rollback_rate": figures["kayenta_calibrated"]["aa"][
            "rollback_rate"
        ],
        "kayenta_calibrated_detection_rate_min": detection_min("kayenta_calibrated"),
        "flagger_aa_false_rollback_rate": figures["flagger"]["aa"]["rollback_rate"],
        "flagger_detection_rate_min": detection_min("flagger"),
        "median_requests_raygate": pooled["raygate"],
        "median_requests_kayenta": pooled["kayenta"],
        "median_requests_kayenta_calibrated": pooled["kayenta_calibrated"],
        "median_requests_flagger": pooled["flagger"],
        "median_requests_ratio_vs_kayenta": pooled["raygate"] / pooled["kayenta"],
        "median_requests_ratio_vs_kayenta_calibrated": pooled["raygate"]
        / pooled["kayenta_calibrated"],
        "median_requests_by_scenario": {
            name: {s: f["median_canary_requests"] for s, f in per.items()}
            for name, per in figures.items()
        },
        "wall_s": round(time.perf_counter() - started, 1),
    }
    # The pre-flight plan predicts, by its own smaller simulation, what the A/A runs above
    # measured: the median canary requests to a promotion.
    plan = make_plan(
        benchmark_policy(), REQUESTS_PER_WINDOW / 60.0, SHARE * 100, BASELINE,
        simulations=60 if args.quick else 200, seed=args.seed + 1,
    )  # fmt: skip
    planned = plan.to_promote.median_requests
    simulated = float(
        np.median([n for d, n in judges["raygate"](by_scenario["aa"]) if d == "promote"])
    )
    summary["plan_median_requests_to_promote"] = planned
    summary["simulated_median_requests_to_promote"] = simulated
    summary["plan_vs_simulated_ratio"] = planned / simulated if planned else None
    summary["wall_s"] = round(time.perf_counter() - started, 1)
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
