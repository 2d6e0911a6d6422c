"""``divergences list``: every registered divergence with the facts the layers read from its record.

The facts come from :meth:`divergences.Divergence.facts` at the default parameters (a user's divergence
registered in the same process is listed too): symmetry, the range of values, whether the torch losses'
gradients are bounded, the units, the conventional drift threshold, and what the two arguments are.
"""

from __future__ import annotations

import json
import math
from typing import Any

import typer
from rich.table import Table

from .guard import out
from .text import fmt, plain

__all__ = ["catalogue_rows", "list_command"]

_GRADIENT = {True: "bounded", False: "may overflow", None: "autograd (log space)"}
_INPUTS = {"distributions": "distributions", "ordered": "ordered categories", "vectors": "raw vectors"}


def catalogue_rows() -> list[dict[str, Any]]:
    """The facts of every registered record at its default parameters; a record whose parameters have no
    defaults is listed with ``"error"`` saying so."""
    from ..core.divergence import spec
    from ..core.record import records

    rows = []
    for record in records():
        try:
            rows.append(spec(record.name).facts())
        except (TypeError, ValueError) as exc:
            rows.append({"name": record.name, "kind": record.kind, "error": f"needs parameters: {exc}"})
    return rows


def _range(facts: dict[str, Any]) -> str:
    bound = facts["upper_bound"]
    return f"[0, {fmt(bound)}]" if bound is not None and math.isfinite(bound) else "[0, ∞]"


def _list_format(value: str) -> str:
    if value.lower() not in ("table", "json"):
        raise typer.BadParameter("must be table or json", param_hint="--format")
    return value.lower()


def list_command(
    fmt_name: str = typer.Option("table", "--format", metavar="table|json", callback=_list_format,
                                 help="table (the terminal) or json (one object per divergence, on standard output)."),
) -> None:
    """List the divergences: kind, parameters, symmetry, range, gradients, units, drift threshold."""
    rows = catalogue_rows()
    if fmt_name == "json":
        typer.echo(json.dumps(rows, indent=2, default=str))
        return
    table = Table(title="divergences (facts at the default parameters)", title_justify="left")
    for header in ("name", "kind", "parameters", "symmetric", "range", "torch gradients", "units", "drift ≥",
                   "compares"):
        table.add_column(header)
    for r in rows:
        if "error" in r:
            table.add_row(plain(r["name"]), plain(r["kind"]), plain(r["error"]), *[plain("")] * 6)
            continue
        name = r["name"] + (f" ({', '.join(r['aliases'])})" if r["aliases"] else "")
        params = ", ".join(f"{k}={v}" for k, v in r["params"].items()) or "–"
        drift = fmt(r["drift"]["threshold"]) if r["drift"] else "–"
        table.add_row(plain(name), plain(r["kind"]), plain(params), plain("yes" if r["symmetric"] else "no"),
                      plain(_range(r)), plain(_GRADIENT[r["bounded_gradient"]]),
                      plain("nats (base=)" if r["information_units"] else "–"), plain(drift),
                      plain(_INPUTS.get(r["inputs"], r["inputs"])))
    out.print(table)
