"""Atomic writes that honour the umask, keep modes and links, and never leave temporary files (issue 10)."""

from __future__ import annotations

import os
import signal
import stat
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from divergences._safe_write import check_distinct, remove_stale_temporaries, write_atomic

SRC = str(Path(__file__).resolve().parents[2] / "src")


def mode(p) -> int:
    return stat.S_IMODE(os.stat(p).st_mode)


def temporaries(folder: Path) -> list[str]:
    return [f.name for f in folder.iterdir() if f.name.startswith(".divergences-")]


def test_new_file_honours_the_umask(tmp_path):
    old = os.umask(0o022)
    try:
        write_atomic(tmp_path / "a.json", "{}")
        os.umask(0o077)
        write_atomic(tmp_path / "b.json", "{}")
    finally:
        os.umask(old)
    assert mode(tmp_path / "a.json") == 0o644
    assert mode(tmp_path / "b.json") == 0o600
    assert (tmp_path / "a.json").read_text() == "{}"
    assert temporaries(tmp_path) == []


def test_existing_file_keeps_its_mode_and_a_link_stays_a_link(tmp_path):
    target = tmp_path / "report.html"
    target.write_text("old")
    os.chmod(target, 0o640)
    link = tmp_path / "latest.html"
    link.symlink_to(target)
    write_atomic(link, "new")
    assert link.is_symlink() and target.read_text() == "new" and mode(target) == 0o640


def test_a_failed_write_keeps_the_old_file_and_leaves_no_temporary(tmp_path, monkeypatch):
    target = tmp_path / "r.json"
    target.write_text("old")

    def boom(*_a):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", boom)
    with pytest.raises(OSError, match="No space"):
        write_atomic(target, "new")
    assert target.read_text() == "old" and temporaries(tmp_path) == []


def test_a_directory_is_refused(tmp_path):
    with pytest.raises(IsADirectoryError):
        write_atomic(tmp_path, "x")


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGHUP, signal.SIGINT])
def test_a_signal_during_the_write_removes_the_temporary(tmp_path, sig):
    script = textwrap.dedent(f"""
        import os, signal, sys
        sys.path.insert(0, {SRC!r})
        import divergences._safe_write as sw
        real = os.fsync
        def slow(fd):
            real(fd)
            print("writing", flush=True)
            signal.pause()  # the parent sends the signal now
        os.fsync = slow
        sw.write_atomic({str(tmp_path / "r.html")!r}, "x" * 100000)
    """)
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                            text=True)
    assert proc.stdout.readline().strip() == "writing"
    assert len(temporaries(tmp_path)) == 1
    proc.send_signal(sig)
    assert proc.wait(timeout=30) == -sig  # it still dies of the signal (Ctrl-C: Python re-raises SIGINT on exit)
    assert temporaries(tmp_path) == [] and not (tmp_path / "r.html").exists()


def test_the_next_run_removes_stale_temporaries_of_dead_processes(tmp_path):
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    stale = tmp_path / f".divergences-{int(dead.stdout)}-0123456789ab.tmp"
    stale.write_text("half")
    alive = tmp_path / f".divergences-{os.getpid()}-0123456789ab.tmp"  # a write of this very process
    alive.write_text("in progress")
    foreign = tmp_path / ".divergences-notes.txt"  # not one of ours
    foreign.write_text("keep")
    write_atomic(tmp_path / "r.json", "{}")
    assert not stale.exists() and alive.exists() and foreign.exists()
    assert remove_stale_temporaries(tmp_path) == []


def test_same_file_is_refused_through_links_and_dot_paths(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    Path("ref.csv").write_text("a\n1\n")
    os.symlink("ref.csv", "alias.csv")
    os.link("ref.csv", "hard.csv")
    for out in ("ref.csv", "./ref.csv", str(tmp_path / "ref.csv"), "alias.csv", "hard.csv", "sub/../ref.csv"):
        with pytest.raises(ValueError, match=r"--json .* is the same file as REFERENCE ref.csv"):
            check_distinct({"REFERENCE": "ref.csv", "CURRENT": "cur.csv"}, {"--json": out})
    with pytest.raises(ValueError, match="--json x is the same file as --html ./x"):
        check_distinct({}, {"--html": "./x", "--json": "x"})
    check_distinct({"REFERENCE": "ref.csv"}, {"--json": "-", "--html": "out.html", "-o": None})
