"""The HTML report in headless Chromium (Debian's ``chromium``): loads without console errors, lists
every column (escaped), sorts, and a screenshot is saved under reports/ (git-ignored)."""

from __future__ import annotations

import html
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
         "--no-first-run", "--disable-extensions"]


def chromium(*args: str, tmp: Path) -> subprocess.CompletedProcess:
    return subprocess.run([CHROMIUM, *FLAGS, f"--user-data-dir={tmp / 'profile'}", *args], capture_output=True,
                          text=True, timeout=120)


def console_messages(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if ":CONSOLE" in line]


def test_console_messages_are_detected(tmp_path):
    page = tmp_path / "broken.html"
    page.write_text("<html><body><script>notDefined();</script></body></html>")
    assert console_messages(chromium("--dump-dom", page.as_uri(), tmp=tmp_path).stderr)


def test_report_loads_lists_every_column_and_is_screenshotted(tmp_path):
    rng = np.random.default_rng(0)
    names = ["age", "<script>alert(1)</script>", "naïve & \"quoted\"", "city"]
    ref = pd.DataFrame({names[0]: rng.normal(size=500), names[1]: rng.normal(size=500),
                        names[2]: rng.choice(["<b>x</b>", "y & z"], 500), names[3]: rng.choice(["Oslo", "Lyon"], 500)})
    cur = ref.assign(age=ref["age"] + 1.0)
    page = tmp_path / "report.html"
    compare(ref, cur).to_html(str(page))
    text = page.read_text()
    assert "<script>alert" not in text and "http://" not in text.replace("http://www.w3.org/2000/svg", "")
    dumped = chromium("--dump-dom", page.as_uri(), tmp=tmp_path)
    assert dumped.returncode == 0, dumped.stderr[-2000:]
    assert console_messages(dumped.stderr) == []
    body = dumped.stdout.split("<tbody>")[1].split("</tbody>")[0]
    listed = [html.unescape(m) for m in re.findall(r"<a href=\"#col-\d+\">(.*?)</a>", body)]
    assert listed == names
    assert "<b>x</b>" not in dumped.stdout and html.escape("<b>x</b>") in dumped.stdout
    # sorting: click the PSI header (ascending) in a copy of the page, record the order
    probe = tmp_path / "probe.html"
    probe.write_text(text.replace("</body>", "<script>var h=document.querySelectorAll('#summary th')[6];h.click();document.body.setAttribute('data-order',Array.prototype.map.call("
                                  "document.querySelectorAll('#summary tbody tr td:first-child'),"
                                  "function(td){return td.textContent;}).join('|'));</script></body>"))
    clicked = chromium("--dump-dom", probe.as_uri(), tmp=tmp_path)
    assert console_messages(clicked.stderr) == []
    order = html.unescape(re.search(r'data-order="([^"]*)"', clicked.stdout).group(1)).split("|")
    assert order[-1] == "age" and sorted(order) == sorted(names)  # age has the largest PSI and was first
    REPORTS.mkdir(exist_ok=True)
    shot = REPORTS / "report_browser.png"
    taken = chromium("--window-size=1280,1000", f"--screenshot={shot}", page.as_uri(), tmp=tmp_path)
    assert taken.returncode == 0 and shot.stat().st_size > 10_000
    assert console_messages(taken.stderr) == []
