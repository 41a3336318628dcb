"""A self-contained HTML release report: candidate against champion per gold-set category with
intervals, the gate table, the canary's latency and cost distributions per variant, each
judged metric's anytime-valid interval over time with the decision marked, and the weight
steps on a timeline (images inlined, no CDN)."""

from __future__ import annotations

import html
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import numpy as np

from raygate import constants as c
from raygate.canary.observations import WindowPair
from raygate.canary.release_state import ReleaseState
from raygate.evaluation.metrics import wilson_ci
from raygate.evaluation.report import png_data_uri
from raygate.gates.decide import GateDecision
from raygate.sketch import bucket_edges

COLORS = {"champion": "#3b7dd8", "canary": "#d8823b"}
VERDICT_STYLE = {"pass": "#2e7d32", "fail": "#c62828", "inconclusive": "#9a7b00",
                 "skipped": "#9a7b00", "error": "#c62828"}  # fmt: skip


@dataclass
class ReportInputs:
    """Everything the report shows; parts a release did not have are None (said so)."""

    state: ReleaseState
    looks: list[dict[str, Any]]
    totals: WindowPair | None = None
    gates: GateDecision | None = None
    candidate_metrics: dict[str, float] | None = None
    champion_metrics: dict[str, float] | None = None


def category_rows(candidate: dict[str, float], champion: dict[str, float]) -> list[dict]:
    """Per category: each model's quality, rows and 95 % Wilson interval."""
    prefix = f"{c.QUALITY}."
    categories = sorted({k[len(prefix) :] for k in candidate if k.startswith(prefix)})
    rows = []
    for category in categories:
        row: dict[str, Any] = {"category": category}
        for label, metrics in (("candidate", candidate), ("champion", champion)):
            quality = metrics.get(prefix + category)
            n = metrics.get(f"{c.ROWS}.{category}")
            if quality is None or not n:
                row[label] = None
                continue
            row[label] = (quality, int(n), *wilson_ci(round(quality * n), int(n)))
        rows.append(row)
    return rows


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    return plt


def _category_chart(rows: list[dict]) -> str:
    plt = _plt()
    fig, ax = plt.subplots(figsize=(7, 0.45 * len(rows) + 1.2))
    for offset, label in ((-0.15, "champion"), (0.15, "candidate")):
        ys, xs, errs = [], [], [[], []]
        for i, row in enumerate(rows):
            if row[label] is None:
                continue
            quality, _, low, high = row[label]
            ys.append(i + offset)
            xs.append(quality)
            errs[0].append(quality - low)
            errs[1].append(high - quality)
        color = COLORS["canary" if label == "candidate" else "champion"]
        ax.errorbar(xs, ys, xerr=errs, fmt="o", color=color, label=label, capsize=3)
    ax.set_yticks(range(len(rows)), [r["category"] for r in rows])
    ax.set_xlim(0, 1)
    ax.set_xlabel("quality (share correct), 95 % Wilson interval")
    ax.legend(loc="lower right")
    ax.invert_yaxis()
    src = png_data_uri(fig)
    plt.close(fig)
    return src


def _distribution_chart(totals: WindowPair, sketch: str, label: str) -> str | None:
    """Each variant's cumulative distribution (share of requests at or below a value), read off
    its sketch's bucket edges: small samples stay readable and a shifted tail shows."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(7, 2.8))
    drawn = False
    for variant in ("champion", "canary"):
        histogram = getattr(getattr(totals, variant), sketch)
        if histogram.counts.size == 0:
            continue
        edges = [bucket_edges(histogram.offset + i)[1] for i in range(histogram.counts.size)]
        cumulative = (histogram.zero + np.cumsum(histogram.counts)) / histogram.count
        ax.step(edges, cumulative, where="post", color=COLORS[variant],
                label=f"{variant} (n={histogram.count})")  # fmt: skip
        drawn = True
    if not drawn:
        plt.close(fig)
        return None
    ax.set_xscale("log")
    ax.set_ylim(0, 1.02)
    ax.set_xlabel(label)
    ax.set_ylabel("share of requests ≤ x")
    ax.legend(loc="lower right")
    src = png_data_uri(fig)
    plt.close(fig)
    return src


def _interval_chart(looks: list[dict], metric: str, decided_at: float | None) -> str | None:
    points = []
    for look in looks:
        for m in look.get("metrics", []):
            if m["metric"] == metric:
                e = m["evidence"]
                points.append((look["at"], e["ratio"], e["ratio_lower"], e["ratio_upper"],
                               e["max_ratio"]))  # fmt: skip
    if not points:
        return None
    plt = _plt()
    start = looks[0]["at"]
    t = np.array([p[0] - start for p in points])
    lower = np.array([p[2] if p[2] is not None else 0.0 for p in points])
    limit = points[-1][4]
    finite = [v for p in points for v in (p[1], p[3]) if v is not None]
    cap = max(2 * limit, 1.3 * min(max(finite, default=0), 4 * limit))  # ∞ bounds drawn clipped
    upper = np.minimum([p[3] if p[3] is not None else cap for p in points], cap)
    fig, ax = plt.subplots(figsize=(7, 2.6))
    ax.fill_between(t, lower, upper, step="post", alpha=0.25, color=COLORS["canary"],
                    label="anytime-valid bounds")  # fmt: skip
    ratio = [(ti, p[1]) for ti, p in zip(t, points, strict=True) if p[1] is not None]
    if ratio:
        ax.plot(*zip(*ratio, strict=True), "o-", color=COLORS["canary"], ms=3, label="ratio")
    ax.axhline(1, color="#555", lw=1)
    ax.axhline(limit, color="#c62828", lw=1, ls="--", label="limit")
    if decided_at is not None:
        ax.axvline(decided_at - start, color="black", lw=1, ls=":", label="decision")
    ax.set_ylim(0, cap)
    ax.set_xlabel("seconds since the release began")
    ax.set_ylabel(f"{metric}: canary ÷ champion")
    ax.legend(fontsize=8, loc="upper left")
    src = png_data_uri(fig)
    plt.close(fig)
    return src


def _weight_chart(looks: list[dict], decided_at: float | None) -> str | None:
    if not looks:
        return None
    plt = _plt()
    start = looks[0]["at"]
    fig, ax = plt.subplots(figsize=(7, 2.2))
    t = [look["at"] - start for look in looks]
    ax.step(t, [look["weight_percent"] for look in looks], where="post", color=COLORS["canary"])
    if decided_at is not None:
        ax.axvline(decided_at - start, color="black", lw=1, ls=":", label="decision")
        ax.legend()
    ax.set_ylim(0, 100)
    ax.set_xlabel("seconds since the release began")
    ax.set_ylabel("canary weight, %")
    src = png_data_uri(fig)
    plt.close(fig)
    return src


def render_release_report(inputs: ReportInputs) -> str:
    """The report as one HTML string."""
    esc = html.escape
    state, looks = inputs.state, inputs.looks
    decided_at = looks[-1]["at"] if looks and state.final else None
    color = VERDICT_STYLE.get({"promoted": "pass", "rolled_back": "fail"}.get(state.phase, ""),
                              "#555")  # fmt: skip
    sections = [
        f"<h1>{esc(state.model_name)} v{state.candidate_version} against champion "
        f"v{state.champion_version}</h1>",
        f"<p class=outcome style='color:{color}'>{esc(state.phase.replace('_', ' ').upper())}"
        f"</p><p>{esc(state.reason)}</p>",
        f"<p>release <code>{esc(state.release_id)}</code> · began {_when(state.started_at)} · "
        f"{state.looks} looks"
        + (f" · ended {_when(state.ended_at)}" if state.ended_at else "")
        + "</p>",
    ]
    sections.append("<h2>Offline: candidate against champion</h2>")
    if inputs.candidate_metrics and inputs.champion_metrics:
        rows = category_rows(inputs.candidate_metrics, inputs.champion_metrics)
        if rows:
            sections.append(_img("Quality by category", _category_chart(rows)))
            sections.append(_category_table(rows))
    else:
        sections.append("<p>No eval evidence was attached to this release.</p>")
    if inputs.gates is not None:
        sections.append(_gate_table(inputs.gates))
    sections.append("<h2>Live: canary against champion</h2>")
    weight = _weight_chart(looks, decided_at)
    if weight:
        sections.append(_img("Canary weight over time", weight))
    if inputs.totals is not None:
        for sketch, label in (("latency_ms", "latency_ms per request (answered)"),
                              ("cost_usd", "cost_usd per request")):  # fmt: skip
            chart = _distribution_chart(inputs.totals, sketch, label)
            sections.append(_img(label, chart) if chart else f"<p>No {esc(label)} measured.</p>")
    metrics = sorted({m["metric"] for look in looks for m in look.get("metrics", [])})
    for metric in metrics:
        chart = _interval_chart(looks, metric, decided_at)
        if chart:
            sections.append(_img(f"{metric}: anytime-valid interval of canary ÷ champion", chart))
    if looks:
        sections.append(_looks_table(looks))
    return f"""<!doctype html><html><head><meta charset="utf-8">
<title>raygate release · {esc(state.model_name)} v{state.candidate_version}</title>
<style>body{{font:14px system-ui,sans-serif;margin:2em;max-width:960px}}
table{{border-collapse:collapse;margin:0.5em 0}} img{{max-width:100%}}
td,th{{border:1px solid #ccc;padding:3px 8px;text-align:left;vertical-align:top}}
.outcome{{font-size:1.6em;font-weight:bold;margin:0.2em 0}}</style>
</head><body>{"".join(sections)}</body></html>"""


def _when(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _img(title: str, src: str) -> str:
    esc = html.escape
    return f"<h3>{esc(title)}</h3><img alt='{esc(title)}' src='{src}'>"


def _category_table(rows: list[dict]) -> str:
    def cell(value) -> str:
        if value is None:
            return "<td>missing</td>"
        quality, n, low, high = value
        return f"<td>{quality:.3f} [{low:.3f}, {high:.3f}] (n={n})</td>"

    body = "".join(
        f"<tr><td>{html.escape(r['category'])}</td>{cell(r['candidate'])}{cell(r['champion'])}</tr>"
        for r in rows
    )
    return ("<table><tr><th>category</th><th>candidate</th><th>champion</th></tr>"
            f"{body}</table>")  # fmt: skip


def _gate_table(decision: GateDecision) -> str:
    esc = html.escape
    body = "".join(
        f"<tr><td>{esc(g.name)}</td><td>{'-' if g.measured is None else f'{g.measured:.4g}'}</td>"
        f"<td>{esc(g.threshold)}</td><td style='color:{VERDICT_STYLE[g.verdict]}'>{g.verdict}"
        f"</td><td>{esc(g.detail)}</td></tr>"
        for g in decision.gates
    )
    return ("<h3>Gates</h3><table><tr><th>gate</th><th>measured</th><th>threshold</th>"
            f"<th>verdict</th><th>detail</th></tr>{body}</table>")  # fmt: skip


def _looks_table(looks: list[dict]) -> str:
    esc = html.escape
    body = "".join(
        f"<tr><td>{look['look']}</td><td>{look['step']}</td><td>{look['weight_percent']:g}</td>"
        f"<td>{look.get('canary_requests', '-')}</td><td>{look.get('champion_requests', '-')}</td>"
        f"<td style='color:{VERDICT_STYLE.get(look['verdict'], '#555')}'>{look['verdict']}</td>"
        f"<td>{esc(look['decision'])}</td><td>{esc(look['reason'])}</td></tr>"
        for look in looks
    )
    return ("<h3>Every look</h3><table><tr><th>look</th><th>step</th><th>weight %</th>"
            "<th>canary req</th><th>champion req</th><th>verdict</th><th>decision</th>"
            f"<th>reason</th></tr>{body}</table>")  # fmt: skip
