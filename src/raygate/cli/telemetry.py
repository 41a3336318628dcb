"""`raygate trace list` (find requests in the records), `raygate trace show` (one request's
spans as a terminal waterfall) and `raygate telemetry prune` (delete records and traces past
their retention)."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

import typer
from rich import box
from rich.table import Table
from rich.text import Text

from raygate.cli.output import JSON_OPTION, console, emit_json, handles_errors
from raygate.errors import InputError

trace_app = typer.Typer(
    help="Find requests in the per-request records and draw their traces.", no_args_is_help=True
)
telemetry_app = typer.Typer(
    help="Manage local telemetry files (records, traces).", no_args_is_help=True
)
DIR_OPTION = typer.Option(
    None,
    "--dir",
    help="Telemetry folder (default: $RAYGATE_TELEMETRY_DIR or RAYGATE_HOME/telemetry).",
)
SHOWN_ATTRIBUTES = (
    "raygate.variant", "raygate.model_id", "gen_ai.request.model", "gen_ai.tool.name",
    "gen_ai.usage.input_tokens", "gen_ai.usage.output_tokens", "raygate.cost_usd",
    "raygate.finish_reason", "http.response.status_code", "raygate.retrieval.documents",
    "raygate.safety.flags",
)  # fmt: skip
BAR_WIDTH = 30
WIDE_COLUMNS = 120
_DURATION = re.compile(r"^(\d+(?:\.\d+)?)([smhd])$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}


@trace_app.command("list")
@handles_errors
def list_requests(
    variant: str | None = typer.Option(None, "--variant", help="champion, canary or eval."),
    model: str | None = typer.Option(
        None, "--model", help="Registered name (every version) or name@version."
    ),
    run_id: str | None = typer.Option(None, "--run", help="Only the rows of this eval run."),
    failed: bool = typer.Option(False, "--failed", help="Only requests that failed."),
    slowest: bool = typer.Option(False, "--slowest", help="Slowest first (default: newest)."),
    since: str | None = typer.Option(None, "--since", help="Only the last 30m, 12h, 2d."),
    limit: int = typer.Option(20, "--limit", min=1, help="Requests to list at most."),
    folder: Path | None = DIR_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """List answered requests (and eval rows) from the per-request records, newest first,
    each with the trace id `raygate trace show` draws."""
    import time

    from raygate.telemetry.paths import telemetry_dir
    from raygate.telemetry.record_files import RecordFilter, find_records
    from raygate.telemetry.records import RECORDS_FOLDER

    since_ts = time.time() - parse_age(since, "--since").total_seconds() if since else None
    where = RecordFilter(variant=variant, model=model, failed=failed, since_ts=since_ts,
                         run_id=run_id)  # fmt: skip
    root = (folder or telemetry_dir()) / RECORDS_FOLDER
    if folder is not None and not root.is_dir():
        root = folder  # --dir named the records folder itself
    if not any(root.glob("*.jsonl")):
        raise InputError(
            f"no request records in {root}; eval writes them under the RAYGATE_HOME (or "
            "RAYGATE_TELEMETRY_DIR) of the shell that ran it, serving on a local Ray under "
            "that of the shell that ran `raygate serve up` (else of the one Ray was started "
            "in, e.g. after Ray's own `serve deploy`) — pass that folder as --dir "
            "(RAYGATE_RECORDS=off writes none)"
        )
    found = find_records(root, where, limit, slowest)
    if as_json:
        emit_json({"matched": found.matched, "records": found.records,
                   "unreadable_lines": found.unreadable})  # fmt: skip
        return
    _print_requests(found, slowest)


def _print_requests(found, slowest: bool) -> None:
    """The trace id is never cut; model, finish reason, tokens and cost need a wide terminal."""
    from datetime import datetime

    from raygate.telemetry.record_files import failed

    order = "slowest" if slowest else "newest"
    if not found.records:
        console.print("no matching requests")
    else:
        wide = console.width >= WIDE_COLUMNS
        table = Table(box=box.SIMPLE)
        columns = ["finished", "trace", "variant", "status", "latency ms"]
        columns += ["model", "finish", "tokens in/out", "cost USD"] if wide else []
        for column in columns:
            table.add_column(column, no_wrap=True, min_width=32 if column == "trace" else None)
        today = datetime.now().date()
        for r in found.records:
            finished = datetime.fromtimestamp(r["ts"]) if r.get("ts") else None
            when = "-" if finished is None else finished.strftime(
                "%H:%M:%S" if finished.date() == today else "%m-%d %H:%M:%S")  # fmt: skip
            status = f"[red]{r.get('status')}[/]" if failed(r) else str(r.get("status"))
            cells = [when, r.get("trace_id") or "-", r.get("variant") or "-", status,
                     _missing(r.get("latency_ms"), "{:.1f}")]  # fmt: skip
            if wide:
                cells += [r.get("model_id") or "-", r.get("finish_reason") or "-",
                          f"{_missing(r.get('tokens_in'))}/{_missing(r.get('tokens_out'))}",
                          _missing(r.get("cost_usd"), "{:.6f}")]  # fmt: skip
            table.add_row(*cells)
        console.print(table)
        console.print(f"{len(found.records)} of {found.matched} matching requests, {order} "
                      "first; `raygate trace show TRACE` draws one", highlight=False)  # fmt: skip
    if found.unreadable:
        console.print(f"[yellow]warning:[/] {len(found.unreadable)} unreadable line(s) skipped, "
                      f"first {found.unreadable[0]}", highlight=False)  # fmt: skip


def _missing(value, form: str = "{}") -> str:
    """A figure, or '-' where none was measured (never 0)."""
    return "-" if value is None else form.format(value)


@trace_app.command("show")
@handles_errors
def show(
    trace_id: str = typer.Argument(..., help="Trace id (32 hex digits, or a unique prefix of 8+)."),
    folder: Path | None = DIR_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """Draw one trace as a waterfall: each span, its duration bar and key attributes."""
    from raygate.telemetry.paths import telemetry_dir
    from raygate.telemetry.trace_files import read_trace, waterfall
    from raygate.telemetry.tracing import TRACES_FOLDER

    spans = read_trace((folder or telemetry_dir()) / TRACES_FOLDER, trace_id)
    rows = waterfall(spans)
    if as_json:
        emit_json([row.__dict__ for row in rows])
        return
    total = max(row.start_ms + row.duration_ms for row in rows) or 1.0
    wide = console.width >= WIDE_COLUMNS  # narrow terminals get the attributes after the table
    notes: list[str] = []
    table = Table(title=f"trace {spans[0]['trace_id']}", box=box.SIMPLE)
    table.add_column("span", no_wrap=True)
    table.add_column("service", no_wrap=True)
    table.add_column("ms", justify="right", no_wrap=True, min_width=7)
    table.add_column("timeline", no_wrap=True, min_width=BAR_WIDTH)
    if wide:
        table.add_column("attributes", overflow="fold")
    for row in rows:
        start = min(BAR_WIDTH - 1, round(row.start_ms / total * BAR_WIDTH))
        width = max(1, min(BAR_WIDTH - start, round(row.duration_ms / total * BAR_WIDTH)))
        bar = Text(" " * start + "█" * width, style="red" if row.status == "ERROR" else "cyan")
        shown = " ".join(
            f"{k.split('.', 1)[-1]}={_brief(row.attributes[k])}"
            for k in SHOWN_ATTRIBUTES
            if k in row.attributes
        )
        indent = "  " * row.depth
        service = (row.service or "").removeprefix("raygate-")
        cells = [indent + row.name, service, f"{row.duration_ms:.1f}", bar]
        if wide:
            table.add_row(*cells, shown)
            continue
        table.add_row(*cells)
        if shown:
            notes.append(f"[bold]{row.name}[/]: {shown}")
    console.print(table)
    for note in notes:
        console.print(note, highlight=False)


def _brief(value) -> str:
    if isinstance(value, float):
        return f"{value:.3g}"
    if isinstance(value, list | tuple):
        return ",".join(map(str, value))
    return str(value)


def parse_age(text: str, option: str) -> timedelta:
    """`30d`, `12h`, `90m` or `45s` as a timedelta; anything else is an InputError."""
    match = _DURATION.match(text.strip())
    if not match:
        raise InputError(f"{option} {text!r}: use a number and a unit, like 30d, 12h, 90m or 45s")
    return timedelta(**{_UNITS[match[2]]: float(match[1])})


@telemetry_app.command("prune")
@handles_errors
def prune(
    older_than: str = typer.Option(
        "30d", "--older-than", help="Age past which files go: 30d, 12h, 90m."
    ),
    folder: Path | None = DIR_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """Delete record and trace files last written longer ago than --older-than."""
    from raygate.telemetry import records
    from raygate.telemetry.paths import telemetry_dir
    from raygate.telemetry.tracing import TRACES_FOLDER

    age = parse_age(older_than, "--older-than")
    root = folder or telemetry_dir()
    removed = [
        path
        for sub in (records.RECORDS_FOLDER, TRACES_FOLDER)
        if (root / sub).is_dir()
        for path in records.prune(root / sub, age)
    ]
    if as_json:
        emit_json({"removed": [str(p) for p in removed], "older_than": older_than})
        return
    console.print(f"removed {len(removed)} file(s) older than {older_than} under {root}")
