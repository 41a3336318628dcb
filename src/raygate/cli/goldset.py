"""`raygate goldset`: validate a gold set and show its name, content hash and categories."""

from __future__ import annotations

import typer

from raygate.cli.output import JSON_OPTION, console, emit_json, handles_errors

app = typer.Typer(help="Validate and describe gold sets.", no_args_is_help=True)


@app.command("show")
@handles_errors
def show(
    source: str = typer.Argument(
        ..., metavar="NAME|PATH", help="Built-in name (smoke, dev) or a JSONL file."
    ),
    as_json: bool = JSON_OPTION,
) -> None:
    """Validate every line of a gold set and print its identity: name, hash, row counts."""
    from raygate.goldset import scan_goldset

    info = scan_goldset(source)
    if as_json:
        emit_json({"name": info.name, "path": str(info.path), "content_hash": info.content_hash,
                   "rows": info.rows, "categories": info.categories})  # fmt: skip
        return
    console.print(f"[bold]{info.name}[/] {info.content_hash} · {info.rows} rows · {info.path}")
    for category, count in info.categories.items():
        console.print(f"  {category:<14} {count}")
