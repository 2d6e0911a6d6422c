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

from divergences.files import _host_tag, check_distinct, remove_stale_temporaries, write_atomic

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


def test_existing_file_keeps_its_mode_and_a_link_is_followed_only_when_asked(tmp_path):
    target = tmp_path / "report.html"
    target.write_text("old")
    os.chmod(target, 0o640)
    link = tmp_path / "latest.html"
    link.symlink_to(target)
    write_atomic(link, "new", follow_symlinks=True)
    assert link.is_symlink() and target.read_text() == "new" and mode(target) == 0o640
    write_atomic(target, "newer")
    assert target.read_text() == "newer" and mode(target) == 0o640


def test_a_link_planted_at_the_destination_is_replaced_not_followed(tmp_path):
    victim = tmp_path / "victim.txt"
    victim.write_text("precious")
    out = tmp_path / "out" / "report.json"
    out.parent.mkdir()
    out.symlink_to(victim)
    assert write_atomic(out, "{}") == str(out.resolve())
    assert victim.read_text() == "precious"
    assert not out.is_symlink() and out.read_text() == "{}"
    dangling = tmp_path / "out" / "d.json"
    dangling.symlink_to(tmp_path / "nowhere" / "x.json")
    write_atomic(dangling, "{}")
    assert not (tmp_path / "nowhere").exists() and dangling.read_text() == "{}"


def test_a_link_or_file_planted_at_the_temporary_name_is_never_opened(tmp_path, monkeypatch):
    import secrets

    victim = tmp_path / "victim.txt"
    victim.write_text("precious")
    names = iter(["aaaaaaaaaaaa", "bbbbbbbbbbbb", "cccccccccccc"])
    monkeypatch.setattr(secrets, "token_hex", lambda _n: next(names))
    host = _host_tag()
    (tmp_path / f".divergences-{os.getpid()}-aaaaaaaaaaaa-h{host}.tmp").symlink_to(victim)
    (tmp_path / f".divergences-{os.getpid()}-bbbbbbbbbbbb-h{host}.tmp").write_text("planted")
    write_atomic(tmp_path / "r.json", "{}")
    assert victim.read_text() == "precious" and (tmp_path / "r.json").read_text() == "{}"
    assert (tmp_path / f".divergences-{os.getpid()}-bbbbbbbbbbbb-h{host}.tmp").read_text() == "planted"


def test_replace_false_creates_once(tmp_path):
    target = tmp_path / "manifest.json"
    write_atomic(target, "first", replace=False)
    with pytest.raises(FileExistsError):
        write_atomic(target, "second", replace=False)
    assert target.read_text() == "first" and temporaries(tmp_path) == []
    link = tmp_path / "link.json"
    link.symlink_to(tmp_path / "nowhere.json")
    with pytest.raises(FileExistsError):  # a dangling link is an existing name too
        write_atomic(link, "x", replace=False)
    assert not (tmp_path / "nowhere.json").exists()


def test_concurrent_writers_of_one_file_never_collide(tmp_path):
    script = textwrap.dedent(f"""
        import sys
        sys.path.insert(0, {SRC!r})
        from divergences.files import write_atomic
        me = sys.argv[1]
        for i in range(200):
            write_atomic({str(tmp_path / "shared.txt")!r}, me * 1000)
    """)
    procs = [subprocess.Popen([sys.executable, "-c", script, c], stderr=subprocess.PIPE, text=True) for c in "abcd"]
    errors = [p.communicate(timeout=120)[1] for p in procs]
    assert all(p.returncode == 0 for p in procs), errors
    assert (tmp_path / "shared.txt").read_text() in {c * 1000 for c in "abcd"}
    assert temporaries(tmp_path) == []


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
        import divergences.files as sw
        if {int(sig)} == signal.SIGHUP:  # the default action, also when the suite runs under nohup
            signal.signal(signal.SIGHUP, signal.SIG_DFL)
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


def test_an_ignored_hangup_stays_ignored_and_the_write_completes(tmp_path):
    """Under nohup SIGHUP is ignored: a hangup during the write must neither kill it nor remove its file."""
    script = textwrap.dedent(f"""
        import os, signal, sys
        sys.path.insert(0, {SRC!r})
        import divergences.files as sw
        signal.signal(signal.SIGHUP, signal.SIG_IGN)  # what nohup does
        real = os.fsync
        def slow(fd):
            real(fd)
            print("writing", flush=True)
            sys.stdin.readline()  # the parent sends SIGHUP, then a line
        os.fsync = slow
        sw.write_atomic({str(tmp_path / "r.html")!r}, "x" * 100000)
        assert signal.getsignal(signal.SIGHUP) == signal.SIG_IGN
        print("done", flush=True)
    """)
    proc = subprocess.Popen([sys.executable, "-c", script], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "writing"
    proc.send_signal(signal.SIGHUP)
    out, err = proc.communicate("go\n", timeout=60)
    assert proc.returncode == 0 and out.strip() == "done", err
    assert (tmp_path / "r.html").read_text() == "x" * 100000 and temporaries(tmp_path) == []


def test_the_next_run_removes_stale_temporaries_of_dead_processes(tmp_path):
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    stale = tmp_path / f".divergences-{int(dead.stdout)}-0123456789ab.tmp"
    stale.write_text("half")
    alive = tmp_path / f".divergences-{os.getpid()}-0123456789ab.tmp"  # a write of this very process
    alive.write_text("in progress")
    foreign = tmp_path / ".divergences-notes.txt"  # not one of ours
    foreign.write_text("keep")
    dead_here = tmp_path / f".divergences-{int(dead.stdout)}-0123456789ab-h{_host_tag()}.tmp"
    dead_here.write_text("half")
    other_host = tmp_path / f".divergences-{int(dead.stdout)}-0123456789ab-h{'0' * 8 if _host_tag() != '0' * 8 else '1' * 8}.tmp"
    other_host.write_text("another node of the job is writing it")  # its pid means nothing on this machine
    write_atomic(tmp_path / "r.json", "{}")
    assert not stale.exists() and alive.exists() and foreign.exists()
    assert not dead_here.exists() and other_host.exists()
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
