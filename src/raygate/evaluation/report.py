"""A self-contained HTML eval report: figures, per-category quality, latency, cost (no CDN)."""

from __future__ import annotations

import base64
import html
import io

import numpy as np
import pandas as pd

from raygate import constants as c
from raygate.goldset import GoldSetInfo


def png_data_uri(figure) -> str:
    """A matplotlib figure as an inline PNG (data: URI)."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=110, bbox_inches="tight")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()


def _charts(rows: pd.DataFrame) -> list[tuple[str, str]]:
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    charts = []
    quality = rows.groupby("category")["correct"].mean().sort_index()
    fig, ax = plt.subplots(figsize=(6, 3))
    ax.barh(quality.index, quality.values, color="#3b7dd8")
    ax.set_xlim(0, 1)
    ax.set_xlabel("quality (share correct)")
    charts.append(("Quality by category", png_data_uri(fig)))
    plt.close(fig)
    for column, label in (
        ("latency_ms", "latency_ms_total per row"),
        ("cost_usd", "cost_usd per row"),
    ):
        values = pd.to_numeric(rows[column], errors="coerce").dropna().to_numpy()
        if values.size == 0:
            continue
        fig, ax = plt.subplots(figsize=(6, 3))
        ax.hist(values, bins=min(40, max(5, int(np.sqrt(values.size)))), color="#7a9e3b")
        ax.set_xlabel(label)
        ax.set_ylabel("rows")
        charts.append((label, png_data_uri(fig)))
        plt.close(fig)
    return charts


def render_report(
    model_id: str,
    model_uri: str,
    goldset: GoldSetInfo,
    metrics: dict[str, float],
    missing: tuple[str, ...],
    rows: pd.DataFrame,
) -> str:
    """The report as one HTML string with images inlined."""
    esc = html.escape
    headline = [k for k in metrics if "." not in k]
    metric_rows = "".join(f"<tr><td>{esc(k)}</td><td>{metrics[k]:.4g}</td></tr>" for k in headline)
    categories = sorted({k.split(".", 1)[1] for k in metrics if k.startswith(f"{c.QUALITY}.")})
    category_rows = "".join(
        f"<tr><td>{esc(cat)}</td><td>{metrics[f'{c.ROWS}.{cat}']:.0f}</td>"
        + "".join(f"<td>{metrics[f'{m}.{cat}']:.3f}</td>" for m in c.CI_METRICS)
        + "</tr>"
        for cat in categories
    )
    images = "".join(
        f"<h3>{esc(t)}</h3><img alt='{esc(t)}' src='{src}'>" for t, src in _charts(rows)
    )
    failures = rows[rows["correct"] < 1].head(25)
    failure_rows = "".join(
        f"<tr><td>{esc(r.id)}</td><td>{esc(r.category)}</td><td>{esc(str(r.error or ''))}</td></tr>"
        for r in failures.itertuples()
    )
    return f"""<!doctype html><html><head><meta charset="utf-8">
<title>raygate eval · {esc(model_id)} on {esc(goldset.name)}</title>
<style>body{{font:14px system-ui,sans-serif;margin:2em;max-width:900px}}
table{{border-collapse:collapse}}
td,th{{border:1px solid #ccc;padding:3px 8px;text-align:left}}</style>
</head><body>
<h1>{esc(model_id)} on {esc(goldset.name)}</h1>
<p>model <code>{esc(model_uri)}</code> · gold set <code>{esc(goldset.name)}</code>
{goldset.rows} rows, <code>{esc(goldset.content_hash)}</code></p>
<h2>Metrics</h2><table><tr><th>metric</th><th>value</th></tr>{metric_rows}</table>
<p>Not reported by this model: {esc(", ".join(missing) or "none")}.</p>
<h2>By category</h2><table><tr><th>category</th><th>rows</th>
{"".join(f"<th>{m}</th>" for m in c.CI_METRICS)}</tr>{category_rows}</table>
{images}
<h2>First incorrect rows (ids only; see eval_table for redacted text)</h2>
<table><tr><th>id</th><th>category</th><th>error</th></tr>{failure_rows}</table>
</body></html>"""
