"""The ``divergences`` command: compare two tables from the shell (Typer + Rich).

``divergences compare REFERENCE CURRENT`` bins the reference (or reads a saved profile, a
``.json`` file), compares the current table column by column, prints a summary table, and writes
``--html`` / ``--json`` reports atomically. Exit status: 0 = done, 1 = drift found with
``--fail-on-drift``, 2 = bad input (the message names the file and the column; nothing is written).
``divergences demo`` runs the comparison on the dataset shipped with the package.
"""

from __future__ import annotations

import math
import os
from importlib import resources
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

__all__ = ["app", "main"]

app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
                  help="Compare datasets column by column with honest uncertainty (PSI, JS, Hellinger, ...).")
out = Console()
err = Console(stderr=True)

DEMO_FILE = "breast_cancer.csv"
DEMO_SPLIT = 284  # reference: the first 284 rows in the published order; current: the other 285


def _fail(message: str) -> None:
    err.print(f"[bold red]error:[/] {message}", highlight=False)
    raise typer.Exit(2)


def _split_list(values: list[str] | None) -> list[str] | None:
    if not values:
        return None
    return [v.strip() for item in values for v in item.split(",") if v.strip()]


def _fmt(x: Any) -> str:
    if isinstance(x, float):
        if math.isnan(x):
            return "–"
        if math.isinf(x):
            return "∞"
        return f"{x:.3g}"
    return str(x)


def _summary(comparison, limit: int = 40) -> Table:
    first = comparison.metrics[0]
    rows = sorted(comparison.rows, key=lambda r: -r[first] if not math.isnan(r[first]) else math.inf)
    table = Table(title=f"{len(comparison.drifted)} of {len(rows)} columns drifted ({comparison.drift_rule}; "
                        f"smoothing {comparison.smoothing:g})", title_justify="left")
    table.add_column("column", overflow="fold")
    table.add_column("kind")
    table.add_column(f"{first} [{comparison.confidence:.0%} CI]", justify="right")
    table.add_column("p-value", justify="right")
    table.add_column("band")
    for m in comparison.metrics[1:]:
        table.add_column(m, justify="right")
    table.add_column("drift")
    for r in rows[:limit]:
        cells = [r["column"], r["kind"], f"{_fmt(r[first])} [{_fmt(r[first + '_ci_low'])}, {_fmt(r[first + '_ci_high'])}]",
                 _fmt(r[first + "_p_value"]), r.get(first + "_band", "")]
        cells += [_fmt(r[m]) for m in comparison.metrics[1:]]
        cells.append("[bold red]drift[/]" if r["drifted"] else "")
        table.add_row(*cells)
    if len(rows) > limit:
        table.caption = f"{len(rows) - limit} more columns in the reports"
    return table


def _run_compare(reference: Any, current: Any, *, target, bad, columns, categorical, bins, metrics, smoothing,
                 confidence, html: Path | None, json_path: Path | None):
    from .tabular import InputError, Profile, compare

    reports = [p for p in (html, json_path) if p is not None]
    for p in reports:
        if p.exists() and p.is_dir():
            _fail(f"{p}: is a directory, not a file to write")
    try:
        if isinstance(reference, (str, Path)) and str(reference).lower().endswith(".json"):
            reference = Profile.from_json(str(reference))
        with Progress(SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), TimeElapsedColumn(),
                      console=err, transient=True) as progress:
            task = progress.add_task("starting", total=4 + len(reports))

            def step(message: str) -> None:
                progress.update(task, description=message, advance=1)

            result = compare(reference, current, columns=columns, categorical=categorical, bins=bins,
                             metrics=metrics, smoothing=smoothing, confidence=confidence, target=target, bad=bad,
                             progress=step)
            # render everything first, then write: a failure leaves no partial report behind
            texts = []
            if html is not None:
                step("rendering the HTML report")
                texts.append((html, result.to_html()))
            if json_path is not None:
                step("writing JSON")
                texts.append((json_path, result.to_json()))
    except InputError as exc:
        _fail(str(exc))
    except ValueError as exc:
        _fail(str(exc))
    from .tabular.report import write_atomic

    for path, text in texts:
        try:
            write_atomic(path, text)
        except OSError as exc:
            _fail(f"{path}: cannot write ({exc.strerror})")
    return result


@app.command("compare")
def compare_command(
    reference: str = typer.Argument(..., help="Reference table: CSV or Parquet file, or a saved profile (.json)."),
    current: str = typer.Argument(..., help="Current table: CSV or Parquet file."),
    target: str | None = typer.Option(None, "--target", help="Binary target column: excluded from the "
                                      "comparison; its information value per feature is reported."),
    bad: str | None = typer.Option(None, "--bad", help="Target value of a bad row (default 1 / true)."),
    columns: list[str] | None = typer.Option(None, "--columns", help="Columns to compare (repeat or comma-separate)."),
    categorical: list[str] | None = typer.Option(None, "--categorical", help="Numeric columns to treat as categories."),
    bins: int = typer.Option(10, "--bins", help="Quantile bins per numeric column (from the reference)."),
    metrics: str = typer.Option("psi,js,hellinger,wasserstein,chi2", "--metrics",
                                help="Comma-separated metrics; the first decides drift."),
    smoothing: float = typer.Option(0.5, "--smoothing", help="Pseudo-count added to every bin (0: none)."),
    confidence: float = typer.Option(0.95, "--confidence", help="Confidence level of the intervals."),
    html: Path | None = typer.Option(None, "--html", help="Write the HTML report here."),
    json_path: Path | None = typer.Option(None, "--json", help="Write the results as JSON here."),
    fail_on_drift: bool = typer.Option(False, "--fail-on-drift", help="Exit with status 1 if any column drifted."),
) -> None:
    """Compare CURRENT with REFERENCE column by column."""
    result = _run_compare(reference, current, target=target, bad=bad, columns=_split_list(columns),
                          categorical=_split_list(categorical), bins=bins, metrics=_split_list([metrics]) or [],
                          smoothing=smoothing, confidence=confidence, html=html, json_path=json_path)
    out.print(_summary(result))
    for label, path in (("HTML report", html), ("JSON", json_path)):
        if path is not None:
            out.print(f"{label}: {os.path.abspath(path)}", highlight=False)
    if fail_on_drift and result.drifted:
        err.print(f"drift in {len(result.drifted)} column(s): {', '.join(result.drifted)}", highlight=False)
        raise typer.Exit(1)


def demo_frames():
    """The bundled demo split: (reference, current) pandas frames of the Breast Cancer Wisconsin data.

    Reference = the first 284 rows in the published order, current = the other 285. The halves
    differ in case mix (about 51 % malignant in the first, 24 % in the second): a real population
    shift that moves most measurements.
    """
    import pandas as pd

    with resources.as_file(resources.files("divergences") / "data" / DEMO_FILE) as path:
        frame = pd.read_csv(path)
    return frame.iloc[:DEMO_SPLIT].reset_index(drop=True), frame.iloc[DEMO_SPLIT:].reset_index(drop=True)


@app.command("demo")
def demo_command(
    html: Path = typer.Option(Path("divergences-demo.html"), "--html", help="Where to write the HTML report."),
    json_path: Path | None = typer.Option(None, "--json", help="Also write the results as JSON here."),
) -> None:
    """Compare two halves of the bundled Breast Cancer Wisconsin data and write the HTML report."""
    reference, current = demo_frames()
    out.print(f"Demo: Breast Cancer Wisconsin (diagnostic), {len(reference)} reference rows (first half) vs "
              f"{len(current)} current rows (second half); the case mix shifts from 51 % to 24 % malignant.",
              highlight=False)
    result = _run_compare(reference, current, target=None, bad=None, columns=None, categorical=None, bins=10,
                          metrics=["psi", "js", "hellinger", "wasserstein", "chi2"], smoothing=0.5, confidence=0.95,
                          html=html, json_path=json_path)
    out.print(_summary(result, limit=12))
    out.print(f"HTML report written to {os.path.abspath(html)}", highlight=False)
    if json_path is not None:
        out.print(f"JSON written to {os.path.abspath(json_path)}", highlight=False)


def main() -> None:
    """Entry point of the ``divergences`` console script."""
    app()


if __name__ == "__main__":  # pragma: no cover
    main()
