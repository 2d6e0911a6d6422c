"""The HTML report in headless Chromium (Debian's ``chromium``): loads with no console error and no
network request, shows the dataset verdict first, lists every column (escaped), sorts, filters, and
screenshots are saved under reports/ (git-ignored) for review."""

from __future__ import annotations

import html
import json
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from divergences.tabular import compare

CHROMIUM = next((shutil.which(n) for n in ("chromium", "chromium-browser", "google-chrome") if shutil.which(n)), None)
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="no chromium binary (apt-get install -y chromium)")
REPORTS = Path(__file__).resolve().parents[2] / "reports"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--enable-logging=stderr", "--v=0",
         "--no-first-run", "--disable-extensions", "--disable-background-networking", "--disable-sync",
         "--disable-component-update", "--no-default-browser-check", "--disable-domain-reliability"]


def chromium(*args: str, tmp: Path, netlog: Path | None = None) -> subprocess.CompletedProcess:
    extra = [f"--log-net-log={netlog}", "--net-log-capture-mode=Default"] if netlog else []
    return subprocess.run([CHROMIUM, *FLAGS, *extra, f"--user-data-dir={tmp / 'profile'}", *args],
                          capture_output=True, text=True, timeout=120)


def console_messages(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if ":CONSOLE" in line]


def requested_urls(netlog: Path) -> list[str]:
    """Every URL that the page asked for (Chromium's own background requests, whose initiator is
    "not an origin", and file:// / data: URLs are left out)."""
    log = json.loads(netlog.read_text(errors="replace"))
    start = log["constants"]["logEventTypes"]["URL_REQUEST_START_JOB"]
    urls = []
    for e in log.get("events", []):
        p = e.get("params") or {}
        url = p.get("url", "")
        if e.get("type") == start and p.get("initiator") != "not an origin" and url:
            if not url.startswith(("file:", "data:")):
                urls.append(url)
    return urls


def probe(page: Path, script: str, tmp: Path) -> str:
    """Run ``script`` after the page's own, return what it stored in ``body[data-out]``."""
    copy = tmp / f"probe-{abs(hash(script))}.html"
    copy.write_text(page.read_text().replace("</body>", f"<script>{script}</script></body>"))
    done = chromium("--dump-dom", copy.as_uri(), tmp=tmp)
    assert done.returncode == 0, done.stderr[-2000:]
    assert console_messages(done.stderr) == []
    found = re.search(r'data-out="([^"]*)"', done.stdout)
    assert found, done.stdout[-2000:]
    return html.unescape(found.group(1))


def test_console_messages_are_detected(tmp_path):
    page = tmp_path / "broken.html"
    page.write_text("<html><body><script>notDefined();</script></body></html>")
    assert console_messages(chromium("--dump-dom", page.as_uri(), tmp=tmp_path).stderr)


def test_network_requests_are_detected(tmp_path):
    page = tmp_path / "fetches.html"
    page.write_text("<html><body><img src='http://example.invalid/a.png'><script>"
                    "fetch('http://example.invalid/b').catch(function(){});</script></body></html>")
    netlog = tmp_path / "net.json"
    chromium("--dump-dom", page.as_uri(), tmp=tmp_path, netlog=netlog)
    assert set(requested_urls(netlog)) == {"http://example.invalid/a.png", "http://example.invalid/b"}


NAMES = ["age", "<script>alert(1)</script>", "naïve & \"quoted\"", "city", "user_id"]


@pytest.fixture(scope="module")
def report(tmp_path_factory) -> Path:
    rng = np.random.default_rng(0)
    n = 600
    ref = pd.DataFrame({NAMES[0]: rng.normal(size=n), NAMES[1]: rng.normal(size=n),
                        NAMES[2]: rng.choice(["<b>x</b>", "y & z", "a very long category label that is cut"], n),
                        NAMES[3]: rng.choice(["Oslo", "Lyon"], n), NAMES[4]: [f"u{i}" for i in range(n)],
                        "label": rng.integers(0, 2, n)})
    cur = ref.assign(age=ref["age"] + 1.0, user_id=[f"new{i}" for i in range(n)])
    page = tmp_path_factory.mktemp("report") / "report.html"
    # user_id is named: an identifier is otherwise left out of the verdict (listed as skipped)
    compare(ref, cur, target="label", quantiles=True, columns=NAMES).to_html(str(page))
    return page


def test_report_is_offline_and_loads_without_errors(report, tmp_path):
    text = report.read_text()
    assert "<script>alert" not in text
    assert not re.search(r"(https?:)?//[a-z]", text.replace("http://www.w3.org/2000/svg", ""))
    assert not re.search(r"<(link|img|iframe)\b|@import|url\(", text)
    netlog = tmp_path / "net.json"
    dumped = chromium("--dump-dom", report.as_uri(), tmp=tmp_path, netlog=netlog)
    assert dumped.returncode == 0, dumped.stderr[-2000:]
    assert console_messages(dumped.stderr) == []
    assert requested_urls(netlog) == []
    body = dumped.stdout.split("<tbody>")[1].split("</tbody>")[0]
    listed = [html.unescape(m) for m in re.findall(r"<a href=\"#col-\d+\">(.*?)</a>", body)]
    assert listed == NAMES
    assert "<b>x</b>" not in dumped.stdout and html.escape("<b>x</b>") in dumped.stdout


def test_verdict_comes_first_then_the_summary_and_the_iv_table(report, tmp_path):
    order = probe(report, "var ids=['verdict','summary','iv'].map(function(i){var e=document.getElementById(i);"
                          "return e?e.getBoundingClientRect().top:-1;});"
                          "document.body.setAttribute('data-out',ids.join(','))", tmp_path)
    tops = [float(x) for x in order.split(",")]
    assert all(t >= 0 for t in tops) and tops == sorted(tops)
    verdict = probe(report, "document.body.setAttribute('data-out',document.getElementById('verdict').textContent)",
                    tmp_path)
    assert "Dataset drift" in verdict and "Holm" in verdict and "Benjamini" in verdict
    assert "user_id" in verdict  # flagged: every current value is new


def test_summary_sorts_and_filters(report, tmp_path):
    js = ("function names(){return Array.prototype.filter.call(document.querySelectorAll('#summary tbody tr'),"
          "function(r){return r.style.display!=='none';}).map(function(r){return r.cells[0].textContent;}).join('|');}"
          "var out=[];var h=document.querySelectorAll('#summary th')[6];h.click();out.push(names());"
          "var q=document.getElementById('filter');q.value='CIT';q.dispatchEvent(new Event('input'));out.push(names());"
          "q.value='';q.dispatchEvent(new Event('input'));var d=document.getElementById('only-drift');d.checked=true;"
          "d.dispatchEvent(new Event('change'));out.push(names());"
          "d.checked=false;d.dispatchEvent(new Event('change'));var k=document.getElementById('kind');"
          "k.value='categorical';k.dispatchEvent(new Event('change'));out.push(names());"
          "out.push(document.getElementById('shown').textContent);"
          "document.body.setAttribute('data-out',out.join('\\n'))")
    by_psi, city, drifted, categorical, shown = probe(report, js, tmp_path).split("\n")
    order = by_psi.split("|")
    assert sorted(order) == sorted(NAMES) and order[-1] in ("age", "user_id")  # ascending: the largest last
    assert city == "city"
    assert "age" in drifted.split("|") and "city" not in drifted.split("|")
    assert set(categorical.split("|")) == {NAMES[2], "city", "user_id"}
    assert shown == "3 of 5 columns shown"


def test_full_bin_labels_quantiles_and_unseen_share_per_column(report, tmp_path):
    text = html.unescape(report.read_text())
    assert "a very long category label that is cut: reference" in text  # the full label in the tooltip
    assert "a very long…" in text  # shortened on the axis only
    tables = probe(report, "var t=document.querySelectorAll('#col-0 table.quantiles tr');"
                           "document.body.setAttribute('data-out',Array.prototype.map.call(t,function(r){"
                           "return r.cells[0].textContent;}).join('|'))", tmp_path)
    assert tables == "quantile|1%|5%|25%|50%|75%|95%|99%"  # one row per level: narrow enough for a card
    fits = probe(report, "var out=[];document.querySelectorAll('.card').forEach(function(c){"
                         "c.querySelectorAll('table.quantiles').forEach(function(t){"
                         "out.push(t.getBoundingClientRect().right<=c.getBoundingClientRect().right+0.5);});});"
                         "document.body.setAttribute('data-out',out.join(','))", tmp_path)
    assert fits and set(fits.split(",")) == {"true"}  # every quantile table inside its card
    unseen = probe(report, "document.body.setAttribute('data-out',document.getElementById('col-4').textContent)",
                   tmp_path)
    assert "unseen in the reference: 100.0% of current values" in unseen


def test_screenshots_for_review(report, tmp_path):
    REPORTS.mkdir(exist_ok=True)
    for name, size in (("report_browser.png", "1280,1000"), ("report_browser_narrow.png", "800,1400")):
        shot = REPORTS / name
        taken = chromium(f"--window-size={size}", f"--screenshot={shot}", report.as_uri(), tmp=tmp_path)
        assert taken.returncode == 0 and shot.stat().st_size > 10_000
        assert console_messages(taken.stderr) == []


def test_monitor_report_draws_bands_and_loads_offline(tmp_path):
    from divergences.tabular.monitor import monitor
    from divergences.tabular.report_monitor import render_monitor_html

    rng = np.random.default_rng(5)
    ref = pd.DataFrame({"amount": rng.lognormal(3, 1, 1000), "country": rng.choice(["FR", "DE"], 1000)})
    cur = pd.DataFrame({"date": np.repeat(pd.date_range("2024-01-01", periods=35, freq="D"), 40),
                        "amount": rng.lognormal(3, 1, 1400), "country": rng.choice(["FR", "DE"], 1400)})
    cur.loc[cur["date"] >= pd.Timestamp("2024-01-15"), "amount"] *= 2
    page = tmp_path / "monitor.html"
    page.write_text(render_monitor_html(monitor(ref, cur, by="date", every="1w")))
    netlog = tmp_path / "net.json"
    dumped = chromium("--dump-dom", page.as_uri(), tmp=tmp_path, netlog=netlog)
    assert dumped.returncode == 0 and console_messages(dumped.stderr) == [] and requested_urls(netlog) == []
    shapes = probe(page, "var q=function(s){return document.querySelectorAll(s).length;};"
                         "document.body.setAttribute('data-out',[q('svg.timeline'),q('polygon.band'),"
                         "q('line.threshold'),q('circle.drift')].join(','))", tmp_path)
    assert shapes == "2,2,2,3"  # two charts with bands and thresholds; amount drifted in weeks 3, 4, 5
    REPORTS.mkdir(exist_ok=True)
    shot = REPORTS / "monitor_browser.png"
    taken = chromium("--window-size=1280,900", f"--screenshot={shot}", page.as_uri(), tmp=tmp_path)
    assert taken.returncode == 0 and shot.stat().st_size > 10_000 and console_messages(taken.stderr) == []
