"""The commands of ``divergences``: compare, profile, monitor, demo."""

from __future__ import annotations

import inspect
import os
import re
import warnings
from collections.abc import Callable
from contextlib import contextmanager
from importlib import resources
from typing import Any

import typer
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.text import Text
from typer.core import TyperCommand

from .catalogue_view import list_command
from .guard import DRIFT, err, fail, guarded, out
from .render import FORMATS, render
from .sources import check_delimiter, check_outputs, read_reference, write_outputs
from .text import plain, visible

__all__ = ["demo_frames", "register"]

DEMO_FILE = "breast_cancer.csv"
DEMO_SPLIT = 284  # reference: the first 284 rows in the published order; current: the other 285
DEMO_TARGET, DEMO_BAD = "diagnosis", "malignant"


def _split_list(values: list[str] | None) -> list[str] | None:
    if not values:
        return None
    return [v.strip() for item in values for v in item.split(",") if v.strip()]


def _smoothing(value: str | None) -> Any:
    if value is None:
        return None
    if value.strip().lower() == "auto":
        return "auto"
    try:
        return float(value)
    except ValueError:
        raise ValueError(f"--smoothing must be 'auto' or a number ≥ 0, got {value!r}") from None


@contextmanager
def _progress(total: int):
    """A transient progress bar on standard error (only on a terminal: CI logs stay clean)."""
    if not err.is_terminal:
        yield lambda _msg: None
        return
    with Progress(SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), TimeElapsedColumn(),
                  console=err, transient=True) as progress:
        task = progress.add_task("starting", total=total)
        yield lambda message: progress.update(task, description=visible(message), advance=1)


def _fmt_choice(value: str) -> str:
    v = value.lower()
    if v not in FORMATS:
        raise typer.BadParameter(f"must be one of {', '.join(FORMATS)}", param_hint="--format")
    return v


# options shared by the commands (Typer reads them from the signatures)
_O = {
    "target": typer.Option(None, "--target", metavar="COLUMN", help="Binary target column: left out of the comparison; the "
                           "information value of every feature for it is reported."),
    "bad": typer.Option(None, "--bad", metavar="VALUE", help="Target value of a bad row (default 1 / true)."),
    "columns": typer.Option(None, "--columns", metavar="NAMES", help="Columns to compare (repeat or comma-separate)."),
    "categorical": typer.Option(None, "--categorical", metavar="NAMES", help="Numeric columns to treat as categories."),
    "exclude": typer.Option(None, "--exclude", metavar="NAMES", help="Columns to leave out (repeat or comma-separate)."),
    "config": typer.Option(None, "--config", metavar="TOML", help="Options and per-column rules from a TOML file "
                           "(drift_metric, threshold, exclude, [columns.NAME] drift_metric / threshold / ignore); "
                           "options given on the command line take precedence."),
    "bins": typer.Option(10, "--bins", metavar="N", help="Quantile bins per numeric column (from the reference)."),
    "max_categories": typer.Option(50, "--max-categories", metavar="K", help="Categories kept per column (the rest: <other>)."),
    "metrics": typer.Option(None, "--metrics", metavar="NAMES", help="Comma-separated metrics (default psi,js,hellinger,"
                            "wasserstein,chi2); the first is the headline."),
    "drift_metric": typer.Option(None, "--drift-metric", metavar="NAME", help="The metric that decides drift (default: the first); "
                                 "'auto': the test or metric chosen by type and size (KS / chi2 test on a reference of "
                                 "at most 1000 rows, Wasserstein / JS distance on larger ones)."),
    "threshold": typer.Option(None, "--threshold", metavar="X", help="Drift when the drift metric reaches this "
                              "(default: its conventional threshold, PSI 0.1, JS and Hellinger 0.01, KL 0.1; required "
                              "for the others)."),
    "drift_share": typer.Option(None, "--drift-share", metavar="S", help="Dataset drift when at least this share of the "
                                "columns drifted (default 0.5)."),
    "smoothing": typer.Option(None, "--smoothing", metavar="auto|X", help="Pseudo-count per bin, or 'auto' (the default: only for "
                              "columns with an empty bin)."),
    "confidence": typer.Option(0.95, "--confidence", metavar="C", help="Confidence level of the intervals."),
    "decimal": typer.Option(None, "--decimal", metavar="SEP", help="Decimal separator of CSV inputs: '.' (default) or ',' "
                            "(with --delimiter ';' for most such files)."),
    "delimiter": typer.Option(None, "--delimiter", metavar="SEP", help="Field delimiter of CSV inputs (one character, or 'tab'; "
                              "default: detected)."),
    "html": typer.Option(None, "--html", metavar="PATH", help="Write the HTML report here."),
    "json": typer.Option(None, "--json", metavar="PATH", help="Write the results as JSON here ('-': standard output)."),
    "format": typer.Option("auto", "--format", metavar="auto|table|compact|markdown|json", callback=_fmt_choice,
                           help="Terminal output: auto (table if wide enough, else compact), table, compact, "
                                "markdown, json (JSON on standard output)."),
    "fail_on_drift": typer.Option(False, "--fail-on-drift", help="Exit with status 1 if any column drifted."),
    "fail_on_dataset_drift": typer.Option(False, "--fail-on-dataset-drift",
                                          help="Exit with status 1 if the dataset drifted (see --drift-share)."),
    "debug": typer.Option(False, "--debug", help="Print the traceback of an internal error."),
    "quantiles": typer.Option(None, "--quantiles/--no-quantiles",
                              help="Percentiles of both tables (reference/current quantiles in the report, W1 on "
                                   "raw values): one more pass over the numeric columns. Default: on with --html."),
}


def _with_config(kw: dict[str, Any], config: str | None) -> dict[str, Any]:
    """``kw`` completed by the configuration file: an option on the command line (not at its default)
    wins; exclusions add up."""
    if config is None:
        return kw
    from ..tabular import load_config

    loaded = load_config(config)
    defaults = {"bins": 10, "max_categories": 50, "confidence": 0.95}
    out = dict(kw)
    for key, value in loaded.items():
        if key == "exclude":
            out["exclude"] = tuple(dict.fromkeys([*out.get("exclude", ()), *value]))
        elif out.get(key) is None or (key in defaults and out.get(key) == defaults[key]):
            out[key] = value
    return out


#: the options of a comparison that compare and monitor share, with their types: each command declares a
#: ``table`` parameter in their place (see :func:`_table_options`) and passes it to :func:`_compare_kwargs`
_TABLE_OPTIONS: tuple[tuple[str, Any], ...] = (
    ("columns", list[str] | None), ("categorical", list[str] | None), ("exclude", list[str] | None),
    ("config", str | None), ("bins", int), ("max_categories", int), ("metrics", str | None),
    ("drift_metric", str | None), ("threshold", float | None), ("drift_share", float | None),
    ("smoothing", str | None), ("confidence", float), ("delimiter", str | None), ("decimal", str | None),
)


def _table_options(command: Callable[..., None]) -> Callable[..., None]:
    """``command`` with the options of :data:`_TABLE_OPTIONS` in place of its ``table`` parameter: Typer reads
    them from the signature given here (in that order, with the declarations of ``_O``), and the command
    receives their values as one dict ``table``."""
    signature = inspect.signature(command, eval_str=True)
    own = list(signature.parameters.values())
    at = [p.name for p in own].index("table")
    shared = [inspect.Parameter(name, own[at].kind, default=_O[name], annotation=kind)
              for name, kind in _TABLE_OPTIONS]
    parameters = [*own[:at], *shared, *own[at + 1:]]

    def run(**kwargs: Any) -> None:
        table = {name: kwargs.pop(name) for name, _ in _TABLE_OPTIONS}
        return command(**kwargs, table=table)

    run.__name__, run.__qualname__, run.__doc__ = command.__name__, command.__qualname__, command.__doc__
    run.__signature__ = signature.replace(parameters=parameters)  # type: ignore[attr-defined]
    run.__annotations__ = {p.name: p.annotation for p in parameters} | {"return": None}
    return run


def _compare_kwargs(table: dict[str, Any], *, target: str | None = None, bad: str | None = None) -> dict[str, Any]:
    """The keywords of :func:`divergences.tabular.compare` from the shared options (``table``) and the target,
    completed by the configuration file of ``--config``."""
    return _with_config(_table_kwargs(target=target, bad=bad, **table), table["config"])


def _table_kwargs(*, target, bad, columns, categorical, bins, max_categories, metrics, drift_metric, threshold,
                  drift_share, smoothing, confidence, delimiter, exclude, decimal, config) -> dict[str, Any]:
    del config  # read by _compare_kwargs, after these
    kw: dict[str, Any] = {"target": target, "bad": bad, "columns": _split_list(columns),
                          "categorical": _split_list(categorical), "bins": bins, "max_categories": max_categories,
                          "confidence": confidence, "drift_metric": drift_metric, "threshold": threshold,
                          "exclude": tuple(_split_list(exclude) or ())}
    if metrics is not None:
        kw["metrics"] = _split_list([metrics]) or []
    if drift_share is not None:
        kw["drift_share"] = drift_share
    s = _smoothing(smoothing)
    if s is not None:
        kw["smoothing"] = s
    d = check_delimiter(delimiter)
    if d is not None:
        kw["delimiter"] = d
    if decimal is not None:
        kw["decimal"] = decimal
    return kw


def _run(job: Callable[[Callable[[str], None]], Any], steps: int, renderers: list[tuple[str, Callable[[Any], str]]]):
    """Run ``job(progress)``, render every output, then write them all (a failure leaves no partial report)."""
    with _progress(steps + len(renderers)) as step, warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always", UserWarning)
        result = job(step)
        for w in seen:  # how an input may have been misread: said once, on standard error
            if issubclass(w.category, UserWarning):
                err.print(Text.assemble(("warning: ", "bold yellow"), visible(str(w.message))), highlight=False,
                          soft_wrap=True)
        texts = []
        for path, make in renderers:
            step(f"rendering {path}")
            texts.append((path, make(result)))
    return result, write_outputs(texts)


def _outputs(result_html: str | None, result_json: str | None, fmt: str,
             to_html: Callable[[Any], str]) -> list[tuple[str, Callable]]:
    renderers: list[tuple[str, Callable]] = []
    if result_html is not None:
        renderers.append((result_html, to_html))
    if result_json is not None:
        renderers.append((result_json, lambda r: r.to_json()))
    if fmt == "json" and result_json != "-":
        renderers.append(("-", lambda r: r.to_json()))
    return renderers


def _prepare(reference: str, current: str, html: str | None, json_path: str | None, fmt: str,
             to_html: Callable[[Any], str]) -> list[tuple[str, Callable]]:
    """The outputs to render, after refusing (before anything is read) those that would overwrite an
    input or each other."""
    if html == "-":
        fail("--html - is not supported: give the report a file name (JSON can go to standard output)")
    check_outputs({"REFERENCE": reference, "CURRENT": current}, {"--html": html, "--json": json_path})
    return _outputs(html, json_path, fmt, to_html)


def _say_written(paths: list[str], console) -> None:
    for p in paths:
        console.print(Text.assemble("written: ", plain(os.path.abspath(p))), highlight=False, soft_wrap=True)


def _exit_for_drift(result, fail_on_drift: bool, fail_on_dataset_drift: bool) -> None:
    if fail_on_drift and result.drifted:
        err.print(plain(f"drift in {len(result.drifted)} column(s): {', '.join(result.drifted)}"), highlight=False,
                  soft_wrap=True)
        raise typer.Exit(DRIFT)
    if fail_on_dataset_drift and result.summary.dataset_drift:
        err.print(plain(f"dataset drift: {result.summary.headline}"), highlight=False, soft_wrap=True)
        raise typer.Exit(DRIFT)


@_table_options
def compare_command(
    reference: str = typer.Argument(..., metavar="REFERENCE", help="Reference table: CSV or Parquet file, or a saved profile (.json)."),
    current: str = typer.Argument(..., metavar="CURRENT", help="Current table: CSV or Parquet file, or a profile "
                                  "(.json) made with --bins-from REFERENCE (merged partitions)."),
    target: str | None = _O["target"], bad: str | None = _O["bad"],
    *, table: dict[str, Any],
    html: str | None = _O["html"], json_path: str | None = _O["json"], fmt: str = _O["format"],
    fail_on_drift: bool = _O["fail_on_drift"], fail_on_dataset_drift: bool = _O["fail_on_dataset_drift"],
    quantiles: bool | None = _O["quantiles"],
    multivariate: bool = typer.Option(False, "--multivariate", help="Also test the numeric columns together "
                                      "(energy distance on sampled rows, permutation p-value, effect size): catches a "
                                      "change of their joint distribution, a correlation that flips."),
    debug: bool = _O["debug"],
) -> None:
    """Compare CURRENT with REFERENCE column by column."""
    from ..tabular import compare

    renderers = _prepare(reference, current, html, json_path, fmt, lambda r: r.to_html())
    kw = _compare_kwargs(table, target=target, bad=bad)
    if multivariate:
        kw["multivariate"] = True
    if quantiles is not None or "quantiles" not in kw:
        kw["quantiles"] = (html is not None) if quantiles is None else quantiles
    result, written = _run(lambda step: compare(read_reference(reference), read_reference(current), progress=step,
                                                **kw), 4, renderers)
    _report(result, written, fmt, json_to_stdout=any(p == "-" for p, _ in renderers))
    _exit_for_drift(result, fail_on_drift, fail_on_dataset_drift)


def _report(result, written: list[str], fmt: str, json_to_stdout: bool, limit: int | None = None) -> None:
    console = err if json_to_stdout else out  # standard output carries only the JSON then
    if fmt != "json":
        render(result, console, fmt, limit=limit)
    _say_written(written, err if json_to_stdout else out)


def profile_command(
    reference: str = typer.Argument(..., metavar="REFERENCE", help="Reference table: CSV or Parquet file."),
    output: str = typer.Option(..., "-o", "--output", metavar="PATH", help="Where to write the profile (JSON; '-': standard output)."),
    target: str | None = typer.Option(None, "--target", metavar="COLUMN", help="A column to leave out (the target)."),
    columns: list[str] | None = _O["columns"], categorical: list[str] | None = _O["categorical"],
    exclude: list[str] | None = _O["exclude"],
    bins: int = _O["bins"], max_categories: int = _O["max_categories"],
    delimiter: str | None = _O["delimiter"], decimal: str | None = _O["decimal"],
    quantiles: bool = typer.Option(True, "--quantiles/--no-quantiles",
                                   help="Keep the reference's percentiles (for the report's quantiles and W1 on raw "
                                        "values in later comparisons)."),
    bins_from: str | None = typer.Option(None, "--bins-from", metavar="PROFILE", help="Count REFERENCE (a partition) "
                                         "on the bins of this saved profile instead, to be merged with "
                                         "`divergences merge` (or Profile.merge)."),
    debug: bool = _O["debug"],
) -> None:
    """Bin REFERENCE once and save the bins: `divergences compare ref.json CURRENT` reuses them."""
    from ..tabular import profile

    check_outputs({"REFERENCE": reference, "--bins-from": bins_from}, {"-o": output})
    kw: dict[str, Any] = {"delimiter": d} if (d := check_delimiter(delimiter)) is not None else {}
    if decimal is not None:
        kw["decimal"] = decimal

    def job(step):
        step("binning the reference")
        if bins_from is not None:
            return profile(reference, columns=_split_list(columns), bins_from=read_reference(bins_from), **kw)
        return profile(reference, columns=_split_list(columns), categorical=_split_list(categorical), bins=bins,
                       max_categories=max_categories,
                       exclude=(*(_split_list(exclude) or ()), *((target,) if target else ())), quantiles=quantiles,
                       **kw)

    prof, written = _run(job, 1, [(output, lambda p: p.to_json())])
    console = err if output == "-" else out
    console.print(plain(f"profile of {len(prof.columns)} columns, {prof.rows} rows, from {prof.source}"),
                  highlight=False, soft_wrap=True)
    _say_written(written, console)


@_table_options
def monitor_command(
    reference: str = typer.Argument(..., metavar="REFERENCE", help="Reference table (CSV, Parquet) or a saved profile (.json)."),
    current: str = typer.Argument(..., metavar="CURRENT", help="Current table with a time column (CSV or Parquet)."),
    by: str = typer.Option(..., "--by", metavar="COLUMN", help="The time column that defines the windows."),
    every: str = typer.Option(..., "--every", metavar="WINDOW", help="Window length: 1d, 1w, 1mo, 6h, ..."),
    *, table: dict[str, Any],
    html: str | None = _O["html"], json_path: str | None = _O["json"], fmt: str = _O["format"],
    fail_on_drift: bool = typer.Option(False, "--fail-on-drift", help="Exit with status 1 if any column drifted "
                                       "in any window."),
    debug: bool = _O["debug"],
) -> None:
    """Compare every time window of CURRENT (by --by, every --every) with REFERENCE."""
    from ..tabular.report_monitor import render_monitor_html
    from .monitor_view import monitor_drifted, render_monitor, run_monitor

    renderers = _prepare(reference, current, html, json_path, fmt, render_monitor_html)
    kw = _compare_kwargs(table)
    result, written = _run(lambda step: run_monitor(read_reference(reference), current, by=by, every=every,
                                                    progress=step, **kw), 3, renderers)
    json_to_stdout = any(p == "-" for p, _ in renderers)
    console = err if json_to_stdout else out
    if fmt != "json":
        render_monitor(result, console, fmt)
    _say_written(written, console)
    drifted = monitor_drifted(result)
    if fail_on_drift and drifted:
        err.print(plain(f"drift in {len(drifted)} column(s): {', '.join(drifted)}"), highlight=False, soft_wrap=True)
        raise typer.Exit(DRIFT)


def merge_command(
    profiles: list[str] = typer.Argument(..., metavar="PROFILES", help="Profiles of partitions (.json), each made "
                                         "with `divergences profile PART --bins-from ref.json`."),
    output: str = typer.Option(..., "-o", "--output", metavar="PATH", help="Where to write the merged profile "
                               "('-': standard output)."),
    debug: bool = _O["debug"],
) -> None:
    """Merge the profiles of partitions counted on one reference's bins: the profile of their concatenation."""
    from ..tabular import Profile

    check_outputs({f"PROFILES[{i}]": p for i, p in enumerate(profiles)}, {"-o": output})

    def job(step):
        step("merging")
        parts = [Profile.from_json(p) for p in profiles]
        return parts[0].merge(*parts[1:])

    merged, written = _run(job, 1, [(output, lambda p: p.to_json())])
    console = err if output == "-" else out
    console.print(plain(f"merged {len(profiles)} profiles: {merged.rows} rows, {len(merged.columns)} columns"),
                  highlight=False, soft_wrap=True)
    _say_written(written, console)


def demo_frames():
    """The bundled demo split: (reference, current) pandas frames of the Breast Cancer Wisconsin data.

    Reference = the first 284 rows in the published order, current = the other 285. The halves
    differ in case mix (about 51 % malignant in the first, 24 % in the second): a real population
    shift that moves most measurements. The label ``diagnosis`` is the target, not a feature.
    """
    import pandas as pd

    with resources.as_file(resources.files("divergences") / "data" / DEMO_FILE) as path:
        frame = pd.read_csv(path)
    return frame.iloc[:DEMO_SPLIT].reset_index(drop=True), frame.iloc[DEMO_SPLIT:].reset_index(drop=True)


def demo_command(
    html: str = typer.Option("divergences-demo.html", "--html", metavar="PATH", help="Where to write the HTML report."),
    json_path: str | None = _O["json"], fmt: str = _O["format"], debug: bool = _O["debug"],
) -> None:
    """Compare two halves of the bundled Breast Cancer Wisconsin data (target: diagnosis), write the report."""
    from ..tabular import compare

    check_outputs({}, {"--html": html, "--json": json_path})
    reference, current = demo_frames()
    renderers = _outputs(html, json_path, fmt, lambda r: r.to_html())
    json_to_stdout = any(p == "-" for p, _ in renderers)
    (err if json_to_stdout else out).print(
        f"Demo: Breast Cancer Wisconsin (diagnostic), {len(reference)} reference rows (first half) vs "
        f"{len(current)} current rows (second half); the case mix shifts from 51 % to 24 % malignant. "
        f"Target: {DEMO_TARGET} (its information value per feature is reported).", highlight=False, markup=False)
    from ..tabular.engines import opened

    with opened(reference, f"{DEMO_FILE} rows 1–{DEMO_SPLIT}") as ref, \
            opened(current, f"{DEMO_FILE} rows {DEMO_SPLIT + 1}–{DEMO_SPLIT + len(current)}") as cur:
        result, written = _run(lambda step: compare(ref, cur, target=DEMO_TARGET, bad=DEMO_BAD, quantiles=True,
                                                    progress=step), 4, renderers)
    _report(result, written, fmt, json_to_stdout, limit=12)


class _Command(TyperCommand):
    """Usage and help lines in the usual notation: ``compare [OPTIONS] REFERENCE CURRENT``, not Typer's
    ``{reference}`` and ``<str>``."""

    def collect_usage_pieces(self, ctx):
        pieces = [self.options_metavar] if self.options_metavar else []
        for param in self.get_params(ctx):
            if param.param_type_name == "argument":
                pieces.append(param.metavar or (param.name or "").upper())
            else:
                pieces.extend(param.get_usage_pieces(ctx))
        return pieces

    def get_help(self, ctx):
        text = super().get_help(ctx)
        for param in self.get_params(ctx):
            if param.param_type_name == "argument" and param.metavar:
                text = re.sub(rf"(^|\n)(\s*{re.escape(param.metavar)})( <\w+>)",
                              lambda m: m.group(1) + m.group(2) + " " * len(m.group(3)), text)
        return text


def register(app: typer.Typer) -> None:
    """Add the commands to ``app`` (each under the exit-status rules of :mod:`.guard`)."""
    app.command("compare", cls=_Command)(guarded(compare_command))
    app.command("profile", cls=_Command)(guarded(profile_command))
    app.command("monitor", cls=_Command)(guarded(monitor_command))
    app.command("merge", cls=_Command)(guarded(merge_command))
    app.command("demo", cls=_Command)(guarded(demo_command))
    app.command("list", cls=_Command)(guarded(list_command))
