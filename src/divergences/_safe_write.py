"""Writing reports and profiles without ever losing a file.

* :func:`write_atomic`: the text goes to a temporary file in the destination's folder
  (``.divergences-<pid>-<random>.tmp``), is flushed to disk, given its final mode, then renamed over
  the destination in one step: a reader sees the old file or the new one, never half of one. A new
  file gets the mode the umask allows (0644 with the usual umask 022); an existing file keeps its
  mode; a symbolic link keeps pointing where it did (the file it points to is replaced).
* The temporary file is removed when the write fails, on Ctrl-C, and on SIGTERM / SIGHUP (the
  process then dies of the signal as it would have). A run killed with SIGKILL cannot clean up:
  the next write into that folder removes the temporary files of processes that no longer run
  (only files owned by the current user and named by this module).
* :func:`check_distinct`: refuses outputs that would overwrite an input or each other, comparing
  resolved paths (symbolic links, ``./x`` against ``x``, hard links).
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import signal
import stat
import threading
from collections.abc import Iterator, Mapping

__all__ = ["TMP_PREFIX", "check_distinct", "remove_stale_temporaries", "write_atomic"]

TMP_PREFIX = ".divergences-"
_TMP_RE = re.compile(r"^\.divergences-(\d+)-[0-9a-f]{8,}\.tmp$")
_LEGACY_RE = re.compile(r"^\.divergences-[^/]*\.tmp$")  # mkstemp names of earlier versions (no pid)
_LEGACY_AGE_S = 3600.0

_live: set[str] = set()  # temporary files being written now, removed by the signal handlers
_lock = threading.Lock()


def _umask() -> int:
    """The process umask, read without changing it where /proc allows (changing it is not thread-safe)."""
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    with _lock:
        old = os.umask(0o022)
        os.umask(old)
    return old


def _pid_alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    except OSError:
        return True
    return True


def remove_stale_temporaries(folder: str | os.PathLike) -> list[str]:
    """Remove this module's temporary files left in ``folder`` by runs that were killed.

    A file is removed when it is owned by the current user, is named ``.divergences-<pid>-<hex>.tmp``
    and no process ``<pid>`` runs (or, for the pid-less names of earlier versions, is older than an
    hour). Returns the removed paths.
    """
    import time

    removed = []
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return removed
    uid = os.getuid() if hasattr(os, "getuid") else None
    now = time.time()
    for entry in entries:
        if not entry.name.startswith(TMP_PREFIX):
            continue
        try:
            st = entry.stat(follow_symlinks=False)
        except OSError:
            continue
        if not stat.S_ISREG(st.st_mode) or (uid is not None and st.st_uid != uid):
            continue
        m = _TMP_RE.match(entry.name)
        if m:
            stale = not _pid_alive(int(m.group(1)))
        else:
            stale = bool(_LEGACY_RE.match(entry.name)) and now - st.st_mtime > _LEGACY_AGE_S
        if stale:
            with contextlib.suppress(OSError):
                os.unlink(entry.path)
                removed.append(entry.path)
    return removed


def _cleanup_live() -> None:
    for tmp in list(_live):
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        _live.discard(tmp)


@contextlib.contextmanager
def _signals_cleaned() -> Iterator[None]:
    """While inside: SIGTERM / SIGHUP remove the live temporary files, then end the process as the
    signal would have. Only the main thread can install handlers; other threads rely on the caller."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {}

    def handler(signum, frame):
        _cleanup_live()
        old = previous.get(signum, signal.SIG_DFL)
        if callable(old):
            old(signum, frame)
            return
        signal.signal(signum, signal.SIG_DFL if old is None else old)
        os.kill(os.getpid(), signum)

    for name in ("SIGTERM", "SIGHUP"):
        sig = getattr(signal, name, None)
        if sig is None:
            continue
        try:
            previous[sig] = signal.signal(sig, handler)
        except (ValueError, OSError):  # pragma: no cover - exotic platforms
            pass
    try:
        yield
    finally:
        for sig, old in previous.items():
            with contextlib.suppress(ValueError, OSError, TypeError):
                signal.signal(sig, old if old is not None else signal.SIG_DFL)


def write_atomic(path: str | os.PathLike, text: str | bytes) -> str:
    """Write ``text`` to ``path`` atomically (temporary file in the same folder, fsync, rename).

    The destination keeps its mode if it exists, else gets ``0o666 & ~umask``; a symbolic link is
    followed (the link stays, its target is replaced). The folder is created if missing. On any
    failure, on Ctrl-C and on SIGTERM / SIGHUP the temporary file is removed and the destination is
    left as it was. Returns the path written (symbolic links resolved).
    """
    path = os.path.realpath(os.fspath(path))
    folder = os.path.dirname(path)
    os.makedirs(folder, exist_ok=True)
    if os.path.isdir(path):
        raise IsADirectoryError(21, "Is a directory", path)
    remove_stale_temporaries(folder)
    try:
        mode = stat.S_IMODE(os.stat(path).st_mode)
    except FileNotFoundError:
        mode = 0o666 & ~_umask()
    data = text.encode("utf-8") if isinstance(text, str) else bytes(text)
    with _signals_cleaned():
        tmp = os.path.join(folder, f"{TMP_PREFIX}{os.getpid()}-{secrets.token_hex(6)}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o600)
        _live.add(tmp)
        try:
            try:
                view = memoryview(data)
                while view:
                    view = view[os.write(fd, view):]
                os.fsync(fd)
                if hasattr(os, "fchmod"):
                    os.fchmod(fd, mode)
            finally:
                os.close(fd)
            if not hasattr(os, "fchmod"):  # pragma: no cover - Windows
                os.chmod(tmp, mode)
            os.replace(tmp, path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise
        finally:
            _live.discard(tmp)
    return path


def _same(a: str, b: str) -> bool:
    if os.path.realpath(a) == os.path.realpath(b):
        return True
    try:
        return os.path.samefile(a, b)  # hard links, case-insensitive file systems
    except OSError:
        return False


def check_distinct(inputs: Mapping[str, str | os.PathLike | None],
                   outputs: Mapping[str, str | os.PathLike | None]) -> None:
    """Raise ``ValueError`` naming both paths when an output is an input or another output.

    ``inputs`` / ``outputs`` map a role (``"REFERENCE"``, ``"--json"``) to a path; ``None`` and ``"-"``
    (standard output) are skipped. Paths are compared after resolving symbolic links and ``.``/``..``,
    and by identity of the file (hard links) when both exist.

    >>> check_distinct({"REFERENCE": "ref.csv"}, {"--json": "./ref.csv"})
    Traceback (most recent call last):
    ...
    ValueError: --json ./ref.csv is the same file as REFERENCE ref.csv: refusing to overwrite it
    """
    ins = [(k, os.fspath(v)) for k, v in inputs.items() if v is not None and os.fspath(v) != "-"]
    outs = [(k, os.fspath(v)) for k, v in outputs.items() if v is not None and os.fspath(v) != "-"]
    for i, (role, out) in enumerate(outs):
        for other_role, other in [*ins, *outs[:i]]:
            if _same(out, other):
                raise ValueError(f"{role} {out} is the same file as {other_role} {other}: refusing to overwrite it")
