"""The HTML report's content (no browser): verdict, escaping, skipped columns, per-column details."""

from __future__ import annotations

import html
import re

import numpy as np
import pyarrow as pa
import pytest
from typer.testing import CliRunner

from divergences.cli import app
from divergences.tabular import compare
from divergences.tabular.report import render_html
from divergences.tabular.report_svg import histogram_svg, timeline_svg


@pytest.fixture(scope="module")
def comparison():
    rng = np.random.default_rng(0)
    hostile = "evil\x1b[31m\rname"
    ref = pa.table({"a": rng.normal(size=400), "tags": [[1, 2]] * 400, "c": rng.choice(["x", "y"], 400),
                    hostile: rng.normal(size=400), "y": rng.integers(0, 2, 400)})
    cur = pa.table({"a": rng.normal(size=400) + 1, "tags": [[1]] * 400, "c": rng.choice(["x", "y", "<z>"], 400),
                    hostile: rng.normal(size=400), "y": rng.integers(0, 2, 400)})
    return compare(ref, cur, target="y")


def test_the_verdict_comes_before_the_summary(comparison):
    page = render_html(comparison)
    assert page.index("id='verdict'") < page.index("id='summary'") < page.index("id='iv'")
    s = comparison.summary
    assert f"{s.drifted} of {s.columns} columns drifted" in page
    assert "Holm" in page and "Benjamini–Hochberg" in page


def test_skipped_columns_and_unseen_categories_are_reported(comparison):
    page = html.unescape(render_html(comparison))
    assert "Not compared:" in page and "tags (reference): type List(Int64) cannot be binned" in page
    c = comparison["c"]
    assert c.unseen_flag and f"unseen in the reference: {c.unseen_share:.1%} of current values" in page
    assert f"c ({c.unseen_share:.0%} of current values unseen)" in page
    assert "smoothing 0.5 per bin (a bin was empty on one side)" in page  # c: the bin of z is empty in the reference


def test_control_characters_and_markup_from_the_data_are_escaped(comparison):
    page = render_html(comparison)
    assert "\x1b" not in page and "\r" not in page
    assert "evil\\x1b[31m\\rname" in page
    assert "<other>" not in page and "&lt;other&gt;" in page  # the bucket of unseen values, escaped


def test_the_summary_rows_carry_what_the_filters_read(comparison):
    page = render_html(comparison)
    rows = re.findall(r"<tr class='[^']*' data-name='([^']*)' data-kind='([^']*)' data-drift='([01])'>", page)
    assert [(html.unescape(n), k) for n, k, _ in rows] == [(c.column.replace("\x1b", "\\x1b").replace("\r", "\\r"),
                                                           c.kind) for c in comparison.columns]
    assert [d == "1" for *_, d in rows] == [c.drifted for c in comparison.columns]


def test_svg_tooltips_hold_the_full_labels():
    long = "a category label much longer than twelve characters"
    svg = histogram_svg([long, "b"], [3, 1], [1, 3])
    assert f"<title>{long}: reference 75.0% (3), current 25.0% (1)</title>" in svg
    assert "a category …" in svg
    chart = timeline_svg(["w1", "w2", "w3"], [0.01, 0.2, float("nan")], [0.0, 0.1, float("nan")],
                         [0.05, 0.3, float("nan")], [False, True, False], threshold=0.1, metric="psi")
    assert chart.count("<circle") == 2 and 'class="band"' in chart and 'class="threshold"' in chart
    assert "w2: psi 0.2 [0.1, 0.3] · drift" in chart


def test_the_cli_html_equals_the_library_html(tmp_path):
    rng = np.random.default_rng(1)
    import pandas as pd

    pd.DataFrame({"x": rng.normal(size=300)}).to_csv(tmp_path / "r.csv", index=False)
    pd.DataFrame({"x": rng.normal(size=300) + 0.5}).to_csv(tmp_path / "c.csv", index=False)
    result = CliRunner().invoke(app, ["compare", str(tmp_path / "r.csv"), str(tmp_path / "c.csv"), "--html",
                                      str(tmp_path / "r.html")])
    assert result.exit_code == 0
    library = compare(str(tmp_path / "r.csv"), str(tmp_path / "c.csv"), quantiles=True).to_html()
    assert (tmp_path / "r.html").read_text() == library  # --html turns the percentiles on


def test_cards_show_the_usual_quantiles():
    from divergences.tabular.report import shown_quantiles

    percent = [k / 100 for k in range(1, 100)]
    assert [percent[i] for i in shown_quantiles(percent)] == [0.01, 0.05, 0.25, 0.5, 0.75, 0.95, 0.99]
    assert shown_quantiles([0.1, 0.5, 0.9]) == [0, 1, 2]
    deciles = [k / 10 for k in range(1, 10)]
    assert [deciles[i] for i in shown_quantiles(deciles)] == [0.1, 0.2, 0.4, 0.5, 0.6, 0.8, 0.9]
    odd = [k / 13 for k in range(1, 13)]  # none of the usual levels: seven spread evenly
    assert shown_quantiles(odd) == [0, 2, 4, 6, 7, 9, 11]


def test_datetime_quantiles_are_dates_in_a_table_that_fits_its_card():
    import re

    import numpy as np
    import pandas as pd

    from divergences.tabular import compare

    rng = np.random.default_rng(0)
    t = pd.Timestamp("2024-01-01") + pd.to_timedelta(rng.integers(0, 300, 500), unit="D")
    ref, cur = pd.DataFrame({"t": t}), pd.DataFrame({"t": t + pd.Timedelta(days=20)})
    html = compare(ref, cur, columns=["t"], quantiles=True).to_html()
    table = re.search(r"<table class='quantiles'>.*?</table>", html).group(0)
    assert re.search(r"<td>2024-\d\d-\d\d</td>", table) and "e+09" not in table  # dates, not epoch seconds
    assert table.count("<tr>") == 8 and "<th>reference</th><th>current</th>" in table  # one row per level


def test_notebook_view_has_the_verdict_and_small_multiples():
    import numpy as np
    import pandas as pd

    from divergences.tabular import compare

    rng = np.random.default_rng(0)
    ref = pd.DataFrame({"x": rng.normal(size=300), "<b>c</b>": rng.choice(list("ab"), 300)})
    cur = ref.assign(x=ref["x"] + 1)
    html = compare(ref, cur)._repr_html_()
    assert "dataset drift" in html and "1 of 2 columns drifted" in html
    assert html.count("<svg") == 2 and "class=\"hist\"" in html  # one thumbnail per column
    assert "&lt;b&gt;c&lt;/b&gt;" in html and "<b>c</b>" not in html  # names escaped
    assert html.index(">x<") < html.index("&lt;b&gt;c")  # drifted columns first
