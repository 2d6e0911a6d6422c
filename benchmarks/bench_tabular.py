"""Benchmark: comparing two Parquet tables column by column (time and peak memory).

Contenders, each run in its own process (peak RSS = that process's ru_maxrss, reading included):

* ``divergences``: ``divergences.tabular.compare(ref.parquet, cur.parquet)`` with the default metrics
  (PSI, JS, Hellinger, Wasserstein, χ², each with standard error, interval and p-value), DuckDB engine;
* ``duckdb passes``: the anchor for time: DuckDB's own passes over the same files, written as plain SQL
  (the reference's deciles in one query and its category counts in another, then one counting pass per
  table with ``GROUPING SETS`` over the bin index of every column): what any exact binned comparison
  must read;
* ``duckdb passes, per column``: the same passes with the counts as one ``UNION ALL`` of per-column
  ``GROUP BY`` queries (each reads one column of the Parquet file; faster than ``GROUPING SETS``, which
  feed every row to every set). The ratio printed is against the faster of the two;
* ``pandas/numpy``: a direct implementation (read both files with pandas, reference quantile bins with
  ``np.quantile`` + ``np.searchsorted``, ``value_counts`` for categories, PSI only);
* ``evidently``: Evidently's ``Report([DataDriftPreset(method="psi")])`` on the same pandas frames. It needs
  pandas < 3, so it runs under another interpreter (``--evidently-python``, e.g. a venv made with
  ``python -m venv /tmp/evenv && /tmp/evenv/bin/pip install evidently 'pandas<3' pyarrow``).

Data (generated into a temporary directory, deleted afterwards, never committed): 1M rows × 20 columns
(10 numeric, 10 categorical) and 10M rows × 100 columns (50 numeric, 50 categorical; about 4 GB per
file, minutes per contender: ``--large-rows 0`` skips it); the current table shifts some columns.
Many categories: 200k rows of one text column with 50k and 100k distinct values, compared (the column
named, since one this diverse is otherwise left out as an identifier) against the anchor of one DuckDB
``GROUP BY`` per file (``--category-rows 0`` skips it): once as separate processes (imports included:
NumPy, SciPy and the package weigh more than the data here) and once warm, both in one process.

    python benchmarks/bench_tabular.py --evidently-python /tmp/evenv/bin/python

``--data-dir DIR`` keeps the generated files in DIR (and reuses them when they are there); ``--rounds R``
runs every contender R times, interleaved (one of each per round, the order rotated), and prints the
medians and the median of the per-round ratios (the machine may be shared: compare within one run);
``--only divergences --only "duckdb passes"`` runs some contenders only.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time


def generate(path: str, rows: int, numeric: int, categorical: int, seed: int, shift: float) -> None:
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    rng = np.random.default_rng(seed)
    chunk = 1_000_000
    writer = None
    for start in range(0, rows, chunk):
        n = min(chunk, rows - start)
        cols = {}
        for j in range(numeric):
            s = shift if j % 3 == 0 else 0.0
            x = rng.normal(s, 1.0 + j / 10, n) if j % 2 == 0 else rng.lognormal(s, 0.5, n)
            x[rng.random(n) < 0.01] = np.nan
            cols[f"num_{j}"] = x
        for j in range(categorical):
            k = 5 + 5 * j
            w = np.arange(1, k + 1, dtype=float) ** (-1.0 - (shift if j % 3 == 0 else 0.0))
            codes = np.minimum(np.searchsorted(np.cumsum(w / w.sum()), rng.random(n)), k - 1).astype(np.int32)
            values = pa.array([f"cat{j}_{i}" for i in range(k)])
            cols[f"cat_{j}"] = pa.DictionaryArray.from_arrays(pa.array(codes), values).cast(pa.string())
        table = pa.table(cols)
        if writer is None:
            writer = pq.ParquetWriter(path, table.schema)
        writer.write_table(table)
    writer.close()


# -- workers (each runs in its own process) --------------------------------------------------


def _peak_mb() -> float:
    """Peak resident memory of this process (VmHWM: ru_maxrss would include the parent's peak, which
    Linux carries across exec, and the parent generated the data)."""
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def work_divergences(ref: str, cur: str) -> dict:
    from divergences.tabular import compare

    c = compare(ref, cur)
    return {"psi": {r["column"]: r["psi"] for r in c.rows}}


def work_duckdb(ref: str, cur: str, per_column: bool = False) -> dict:
    """The anchor: plain SQL. ``per_column``: the counts as one UNION ALL of per-column GROUP BYs (each
    reads its column only) instead of GROUPING SETS (one scan, every aggregate fed to every set)."""
    import duckdb

    con = duckdb.connect()
    con.execute("SET enable_progress_bar = false")
    schema = con.sql(f"SELECT * FROM read_parquet('{ref}') LIMIT 0")
    num = [c for c, t in zip(schema.columns, schema.dtypes) if str(t) == "DOUBLE"]
    cat = [c for c, t in zip(schema.columns, schema.dtypes) if str(t) == "VARCHAR"]
    levels = ", ".join(str(k / 10) for k in range(1, 10))
    # pass 1 over the reference: deciles of every numeric column, counts of every category
    qs = con.sql(f"SELECT {', '.join(f'quantile_cont({c}, [{levels}])' for c in num)} "
                 f"FROM read_parquet('{ref}')").fetchall()[0] if num else []
    tops = {}
    if cat and per_column:
        sql = " UNION ALL ".join(f"SELECT {k} AS k, {c} AS v, count(*) FROM read_parquet('{ref}') GROUP BY {c}"
                                 for k, c in enumerate(cat))
        for k, v, n in con.sql(sql).fetchall():
            tops.setdefault(cat[k], []).append((n, v))
    elif cat:
        sets = ", ".join(f"({c})" for c in cat)
        for row in con.sql(f"SELECT {', '.join(cat)}, count(*) FROM read_parquet('{ref}') "
                           f"GROUP BY GROUPING SETS ({sets})").fetchall():
            k = next(j for j in range(len(cat)) if row[j] is not None)
            tops.setdefault(cat[k], []).append((row[-1], row[k]))
    tops = {c: [(n, v) for n, v in nv if v is not None] for c, nv in tops.items()}
    cats = {c: [v for _, v in sorted(tops[c], key=lambda nv: (-nv[0], nv[1]))[:50]] for c in cat}
    # one counting pass per table: the bin index of every column, counted with GROUPING SETS
    idx = []
    for c, q in zip(num, qs):
        whens = " ".join(f"WHEN {c} <= {float(e)!r} THEN {i}" for i, e in enumerate(sorted(set(q))))
        idx.append(f"CASE WHEN {c} IS NULL OR isnan({c}) THEN -1 {whens} ELSE {len(set(q))} END AS i_{c}")
    for c in cat:
        values = ", ".join("'" + v.replace("'", "''") + "'" for v in cats[c])
        idx.append(f"CASE WHEN {c} IS NULL THEN -1 ELSE coalesce(list_position([{values}], {c}), 0) END AS i_{c}")
    names = [f"i_{c}" for c in num + cat]
    sets = ", ".join(f"({n})" for n in names)
    bins = {}
    for path in (ref, cur):
        if per_column:
            sql = " UNION ALL ".join(f"SELECT {k} AS k, {n}, count(*) FROM (SELECT {e} FROM read_parquet('{path}')) "
                                     f"GROUP BY {n}" for k, (n, e) in enumerate(zip(names, idx)))
        else:
            sql = (f"SELECT {', '.join(names)}, count(*) FROM (SELECT {', '.join(idx)} "
                   f"FROM read_parquet('{path}')) GROUP BY GROUPING SETS ({sets})")
        bins[path] = con.sql(sql).fetchall()
    return {"groups": len(bins[ref]) + len(bins[cur])}


def work_numpy(ref: str, cur: str) -> dict:
    import numpy as np
    import pandas as pd

    a, b = pd.read_parquet(ref), pd.read_parquet(cur)
    out = {}
    for c in a.columns:
        if a[c].dtype.kind == "f":
            x = a[c].to_numpy()
            x = x[np.isfinite(x)]
            edges = np.unique(np.quantile(x, np.arange(1, 10) / 10))
            edges = edges[edges < x.max()]
            y = b[c].to_numpy()
            ca = np.bincount(np.searchsorted(edges, x, side="left"), minlength=len(edges) + 1)
            y = y[~np.isnan(y)]
            cb = np.bincount(np.searchsorted(edges, y, side="left"), minlength=len(edges) + 1)
        else:
            va, vb = a[c].value_counts(), b[c].value_counts()
            keys = list(va.index[:50])
            ca = np.append(va.reindex(keys).to_numpy(), va.sum() - va.iloc[:50].sum())
            cb = np.append(vb.reindex(keys).fillna(0).to_numpy(), vb.sum() - vb.reindex(keys).fillna(0).sum())
        keep = (ca + cb) > 0
        alpha = 0.5 if (ca[keep] == 0).any() or (cb[keep] == 0).any() else 0.0  # smoothing="auto"
        p = (cb[keep] + alpha) / (cb[keep] + alpha).sum()
        q = (ca[keep] + alpha) / (ca[keep] + alpha).sum()
        out[c] = float(np.sum((p - q) * np.log(p / q)))
    return {"psi": out}


def work_evidently(ref: str, cur: str) -> dict:
    import pandas as pd
    from evidently import Report
    from evidently.presets import DataDriftPreset

    a, b = pd.read_parquet(ref), pd.read_parquet(cur)
    snap = Report([DataDriftPreset(method="psi")]).run(current_data=b, reference_data=a)
    values = {}
    for m in snap.dict()["metrics"]:
        name = m["metric_name"]
        if name.startswith("ValueDrift(column="):
            values[name.split("column=")[1].split(",")[0]] = float(m["value"])
    return {"psi": values}


def generate_categories(path: str, rows: int, categories: int, seed: int) -> None:
    """One text column drawn uniformly from ``categories`` values (many more than ``max_categories``)."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    rng = np.random.default_rng(seed)
    values = pa.array([f"c{i}" for i in range(categories)])
    codes = pa.array(rng.integers(0, categories, rows).astype(np.int32))
    pq.write_table(pa.table({"cat": pa.DictionaryArray.from_arrays(codes, values).cast(pa.string())}), path)


def work_divergences_categories(ref: str, cur: str) -> dict:
    from divergences.tabular import compare

    c = compare(ref, cur, columns=["cat"])  # named: a column this diverse would be skipped as an identifier
    return {"psi": c["cat"]["psi"].value, "unseen": c["cat"].unseen_share}


def work_duckdb_group_by(ref: str, cur: str) -> dict:
    """The anchor of the many-categories case: one GROUP BY per file, the rows fetched."""
    import duckdb

    con = duckdb.connect()
    con.execute("SET enable_progress_bar = false")
    groups = sum(len(con.sql(f"SELECT cat, count(*) FROM read_parquet('{p}') GROUP BY cat").fetchall())
                 for p in (ref, cur))
    return {"groups": groups}


def work_categories_warm(ref: str, cur: str) -> dict:
    """Both contenders in one process, imports done and each run once before: five alternating runs,
    the median time of each (the work on the data, without the fixed cost of importing NumPy, SciPy
    and the package that separate processes pay)."""
    import scipy.special  # noqa: F401 - imported before timing, as the rest
    import scipy.stats  # noqa: F401

    mine, anchor = [], []
    for i in range(6):
        t0 = time.perf_counter()
        work_divergences_categories(ref, cur)
        t1 = time.perf_counter()
        work_duckdb_group_by(ref, cur)
        t2 = time.perf_counter()
        if i:  # the first round warms up (file cache, lazy imports)
            mine.append(t1 - t0)
            anchor.append(t2 - t1)
    return {"divergences_s": statistics.median(mine), "duckdb_s": statistics.median(anchor),
            "ratio": statistics.median(a / b for a, b in zip(mine, anchor))}


CATEGORY_WORKERS = {"divergences (categories)": work_divergences_categories,
                    "duckdb group by": work_duckdb_group_by}
WARM_WORKERS = {"categories, warm": work_categories_warm}

WORKERS = {"divergences": work_divergences, "duckdb passes": work_duckdb,
           "duckdb passes, per column": lambda ref, cur: work_duckdb(ref, cur, per_column=True),
           "pandas/numpy": work_numpy, "evidently": work_evidently}


def run_worker(python: str, kind: str, ref: str, cur: str, timeout: float) -> dict:
    cmd = [python, os.path.abspath(__file__), "--worker", kind, ref, cur]
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"error": f"timed out after {timeout:.0f} s"}
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["?"])[-1]
        return {"error": f"exit {done.returncode}: {last[:120]}"}
    return json.loads(done.stdout.strip().splitlines()[-1])


def _interleaved(jobs: dict, rounds: int) -> dict:
    """Run every job (name → zero-argument function returning a worker's result) ``rounds`` times,
    one of each per round, the order rotated every round (so that a burst of load on the shared
    machine hits each contender alike). Returns name → {"seconds", "peak_mb": medians; "runs": every
    result}, or the first error."""
    names = list(jobs)
    runs: dict[str, list] = {k: [] for k in names}
    for r in range(rounds):
        order = names[r % len(names):] + names[:r % len(names)]
        for kind in order:
            if any("error" in x for x in runs[kind]):
                continue
            runs[kind].append(jobs[kind]())
    out = {}
    for kind, results in runs.items():
        failed = [x for x in results if "error" in x]
        if failed:
            out[kind] = failed[0]
            continue
        out[kind] = {**results[0], "seconds": statistics.median(x["seconds"] for x in results),
                     "peak_mb": statistics.median(x["peak_mb"] for x in results), "runs": results}
    return out


def _ratio(results: dict, kind: str, anchors: list[str]) -> float | None:
    """The median over rounds of (time of ``kind`` / time of the fastest anchor in the same round)."""
    mine = results.get(kind, {}).get("runs")
    timed = [results[a]["runs"] for a in anchors if "runs" in results.get(a, {})]
    if not mine or not timed:
        return None
    ratios = [m["seconds"] / min(t[i]["seconds"] for t in timed) for i, m in enumerate(mine)
              if all(i < len(t) for t in timed)]
    return statistics.median(ratios) if ratios else None


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--worker", nargs=3, metavar=("KIND", "REF", "CUR"), help=argparse.SUPPRESS)
    ap.add_argument("--evidently-python", default=None, help="interpreter with evidently and pandas<3")
    ap.add_argument("--evidently-large", action="store_true", help="also run Evidently at 10M rows")
    ap.add_argument("--small-rows", type=int, default=1_000_000, help="rows of the 20-column case (0: skip)")
    ap.add_argument("--large-rows", type=int, default=10_000_000, help="rows of the 100-column case (0: skip)")
    ap.add_argument("--rounds", type=int, default=1, help="interleaved rounds (medians and per-round ratios)")
    ap.add_argument("--only", action="append", default=None, help="a contender to run (repeat it; default: all)")
    ap.add_argument("--timeout", type=float, default=1800)
    ap.add_argument("--data-dir", default=None, help="keep (and reuse) the generated files in this folder")
    ap.add_argument("--category-rows", type=int, default=200_000, help="rows of the many-categories case (0: skip)")
    ap.add_argument("--categories", default="50000,100000", help="distinct values of the many-categories case")
    args = ap.parse_args()
    if args.worker:
        kind, ref, cur = args.worker
        t0 = time.perf_counter()
        result = {**WORKERS, **CATEGORY_WORKERS, **WARM_WORKERS}[kind](ref, cur)
        result.update(seconds=time.perf_counter() - t0, peak_mb=_peak_mb())
        print(json.dumps(result))
        return

    only = None if args.only is None else set(args.only)
    folder = args.data_dir or tempfile.mkdtemp(prefix="bench_tabular_")
    os.makedirs(folder, exist_ok=True)
    try:
        cases = []
        if args.small_rows:
            cases.append((f"{args.small_rows / 1e6:g}M x 20 (10 num, 10 cat)", args.small_rows, 10, 10))
        if args.large_rows:
            cases.append((f"{args.large_rows / 1e6:g}M x 100 (50 num, 50 cat)", args.large_rows, 50, 50))
        rows = []
        for label, n, num, cat in cases:
            ref = os.path.join(folder, f"ref_{n}_{num + cat}.parquet")
            cur = os.path.join(folder, f"cur_{n}_{num + cat}.parquet")
            t0 = time.perf_counter()
            made = not (args.data_dir and os.path.exists(ref) and os.path.exists(cur))
            if made:
                generate(ref, n, num, cat, seed=1, shift=0.0)
                generate(cur, n, num, cat, seed=2, shift=0.2)
            print(f"[{label}] data {'generated' if made else 'reused'} in {time.perf_counter() - t0:.0f} s "
                  f"({(os.path.getsize(ref) + os.path.getsize(cur)) / 2**20:.0f} MiB Parquet)", flush=True)
            jobs, results = {}, {}
            for kind in WORKERS:
                python = sys.executable
                if only is not None and kind not in only:
                    continue
                if kind == "pandas/numpy" and n * (num + cat) > 200_000_000:
                    results[kind] = {"error": "not run at this size (it loads both tables)"}
                    continue
                if kind == "evidently":
                    if args.evidently_python is None:
                        results[kind] = {"error": "not run (no --evidently-python)"}
                        continue
                    if n > args.small_rows and not args.evidently_large:
                        results[kind] = {"error": "not run at this size (--evidently-large)"}
                        continue
                    python = args.evidently_python
                jobs[kind] = functools.partial(run_worker, python, kind, ref, cur, args.timeout)
            results.update(_interleaved(jobs, args.rounds))
            for kind, r in results.items():
                print(f"  {kind}: " + (f"{r['seconds']:.1f} s, {r['peak_mb']:.0f} MB" if "error" not in r
                                        else r["error"]), flush=True)
            mine, ref_np = results.get("divergences", {}), results.get("pandas/numpy", {})
            if "psi" in mine and "psi" in ref_np:
                diff = max(abs(mine["psi"][c] - ref_np["psi"][c]) for c in mine["psi"])
                print(f"  max |PSI(divergences) − PSI(pandas/numpy)| over columns = {diff:.2e}")
            # the anchor: the faster of the two plain-SQL forms of DuckDB's passes, round by round
            ratio = _ratio(results, "divergences", [k for k in results if k.startswith("duckdb passes")])
            if ratio is not None:
                print(f"  divergences / DuckDB's own passes (the faster form): {ratio:.2f}× time (median over "
                      f"{args.rounds} interleaved round(s)); peak memory {mine['peak_mb']:.0f} MB")
            evid = _ratio(results, "evidently", ["divergences"])
            if evid is not None:
                print(f"  Evidently / divergences: {evid:.1f}× time, "
                      f"{results['evidently']['peak_mb'] / mine['peak_mb']:.1f}× memory")
            rows.append((label, results))
        if args.category_rows:
            for k in (int(x) for x in args.categories.split(",")):
                label = f"{args.category_rows / 1e3:g}k rows, {k / 1e3:g}k categories"
                ref = os.path.join(folder, f"cats_ref_{args.category_rows}_{k}.parquet")
                cur = os.path.join(folder, f"cats_cur_{args.category_rows}_{k}.parquet")
                if not (os.path.exists(ref) and os.path.exists(cur)):
                    generate_categories(ref, args.category_rows, k, seed=1)
                    generate_categories(cur, args.category_rows, k, seed=2)
                results = _interleaved({kind: functools.partial(run_worker, sys.executable, kind, ref, cur, args.timeout)
                                        for kind in CATEGORY_WORKERS}, args.rounds)
                for kind, r in results.items():
                    print(f"  [{label}] {kind}: " + (f"{r['seconds']:.2f} s, {r['peak_mb']:.0f} MB" if "error" not in r
                                                      else r["error"]), flush=True)
                ratio = _ratio(results, "divergences (categories)", ["duckdb group by"])
                if ratio is not None:
                    print(f"  [{label}] divergences / DuckDB GROUP BY: {ratio:.2f}× time "
                          "(each in its own process, imports included; median over interleaved rounds)")
                warm = run_worker(sys.executable, "categories, warm", ref, cur, args.timeout)
                if "error" in warm:
                    print(f"  [{label}] warm, in one process: {warm['error']}")
                else:
                    print(f"  [{label}] warm, in one process (imports done, five alternating runs): divergences "
                          f"{warm['divergences_s']:.3f} s, DuckDB GROUP BY {warm['duckdb_s']:.3f} s: "
                          f"{warm['ratio']:.2f}× time")
                rows.append((label, {"divergences": results["divergences (categories)"],
                                     "duckdb group by": results["duckdb group by"]}))
        base_name = "divergences"
        print("\n| data | tool | time (s) | peak RSS (MB) | time / divergences | memory / divergences |")
        print("|---|---|---:|---:|---:|---:|")
        for label, results in rows:
            base = results.get(base_name, {})
            for kind, r in results.items():
                if "error" in r:
                    print(f"| {label} | {kind} | {r['error']} | | | |")
                    continue
                tr = r["seconds"] / base["seconds"] if "seconds" in base else float("nan")
                mr = r["peak_mb"] / base["peak_mb"] if "peak_mb" in base else float("nan")
                print(f"| {label} | {kind} | {r['seconds']:.1f} | {r['peak_mb']:.0f} | {tr:.1f}× | {mr:.1f}× |")
    finally:
        if not args.data_dir:
            shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
