"""A self-contained HTML eval report: figures, per-category quality, latency, cost (no CDN)."""

from __future__ import annotations

import base64
import html
import io
import math

import numpy as np

from raygate import constants as c
from raygate.goldset import GoldSetInfo
from raygate.sketch import LogHistogram, bucket_edges


def png_data_uri(figure) -> str:
    """A matplotlib figure as an inline PNG (data: URI)."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=110, bbox_inches="tight")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()


def _charts(
    metrics: dict[str, float], distributions: dict[str, LogHistogram]
) -> list[tuple[str, str]]:
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    charts = []
    prefix = f"{c.QUALITY}."
    quality = sorted((k[len(prefix) :], v) for k, v in metrics.items() if k.startswith(prefix))
    fig, ax = plt.subplots(figsize=(6, 3))
    ax.barh([k for k, _ in quality], [v for _, v in quality], color="#3b7dd8")
    ax.set_xlim(0, 1)
    ax.set_xlabel("quality (share correct)")
    charts.append(("Quality by category", png_data_uri(fig)))
    plt.close(fig)
    for label, histogram in distributions.items():
        if histogram.counts.size == 0:
            continue
        # The streamed histogram's own buckets (2.2 % wide), merged into at most ~40 bars.
        merge = max(1, math.ceil(histogram.counts.size / 40))
        counts = np.add.reduceat(histogram.counts, np.arange(0, histogram.counts.size, merge))
        first = histogram.offset
        edges = [bucket_edges(first + k)[0] for k in range(0, histogram.counts.size, merge)]
        edges.append(bucket_edges(first + histogram.counts.size - 1)[1])
        fig, ax = plt.subplots(figsize=(6, 3))
        ax.stairs(counts, edges, fill=True, color="#7a9e3b")
        ax.set_xscale("log")
        zeros = f" ({histogram.zero} rows at 0 not shown)" if histogram.zero else ""
        ax.set_xlabel(label + zeros)
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
    distributions: dict[str, LogHistogram],
    failures: list[tuple[str, str, str]],
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
        f"<h3>{esc(t)}</h3><img alt='{esc(t)}' src='{src}'>"
        for t, src in _charts(metrics, distributions)
    )
    failure_rows = "".join(
        f"<tr><td>{esc(i)}</td><td>{esc(category)}</td><td>{esc(error)}</td></tr>"
        for i, category, error in failures
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
