"""Writing reports, profiles, caches and priors without ever losing a file: the project's one safe writer.

Internal API shared by the layers that write files (:mod:`divergences.tabular`, :mod:`divergences.cli`,
:mod:`divergences.hf`, :mod:`divergences.llm`); not part of the public surface of ``divergences``.

* :func:`write_atomic`: the text goes to a temporary file in the destination's folder
  (``.divergences-<pid>-<random>-h<host>.tmp``, created exclusively: ``O_CREAT | O_EXCL | O_NOFOLLOW``, so a file or a
  link planted at that name is never opened), is flushed to disk, given its final mode, then renamed over the
  destination in one step: a reader sees the old file or the new one, never half of one. Two writers of one
  file (every rank of a ``torchrun`` job, two jobs on one cache) never share a temporary file; the last
  rename wins, and ``replace=False`` makes the destination "created once": a second writer gets
  ``FileExistsError`` and the first file stays.
* A symbolic link at the destination is **not followed** by default: the rename replaces the link itself, so a
  link planted at a report's or a cache part's name cannot redirect the write to another file.
  ``follow_symlinks=True`` writes through the link instead (the link stays, the file it points to is replaced).
  The folders above the destination are resolved as given.
* A new file gets the mode the umask allows (0644 with the usual umask 022); an existing file keeps its mode.
* The temporary file is removed when the write fails, on Ctrl-C, and on SIGTERM / SIGHUP (the
  process then dies of the signal as it would have). A signal the process ignores (SIGHUP under ``nohup``)
  stays ignored: the write goes on and completes. A run killed with SIGKILL cannot clean up:
  the next write into that folder removes the temporary files of processes that no longer run
  (only files owned by the current user, named by this module on this machine: ``<host>`` hashes the
  machine's name, so the nodes of a job sharing a folder never remove each other's files).
* :func:`check_distinct`: refuses outputs that would overwrite an input or each other, comparing
  resolved paths (symbolic links, ``./x`` against ``x``, hard links).
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import secrets
import signal
import stat
import threading
from collections.abc import Iterator, Mapping

__all__ = ["TMP_PREFIX", "check_distinct", "remove_stale_temporaries", "write_atomic"]

TMP_PREFIX = ".divergences-"
_TMP_RE = re.compile(r"^\.divergences-(\d+)-[0-9a-f]{8,}(?:-h([0-9a-f]{8}))?\.tmp$")
_OTHER_HOST_AGE_S = 86400.0  # a temporary file of another machine (shared file system): its pid means nothing here
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


def _host_tag() -> str:
    """8 hex digits naming this machine, so that a folder shared between machines (NFS, Lustre: the nodes of a
    ``torchrun`` job) never has one machine remove another's temporary file as stale."""
    import hashlib
    import socket

    return hashlib.sha256(socket.gethostname().encode("utf-8", "replace")).hexdigest()[:8]


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

    A file is removed when it is owned by the current user, is named ``.divergences-<pid>-<hex>-h<host>.tmp``
    by this machine (``<host>``: a hash of its name) and no process ``<pid>`` runs here. A temporary file of
    another machine (a folder shared between machines) is removed only when older than a day; pid-less names
    of earlier versions when older than an hour. Returns the removed paths.
    """
    import time

    removed = []
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return removed
    uid = os.getuid() if hasattr(os, "getuid") else None
    now = time.time()
    host = _host_tag()
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
        if m and m.group(2) not in (None, host):
            stale = now - st.st_mtime > _OTHER_HOST_AGE_S
        elif m:
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
            if signal.getsignal(sig) == signal.SIG_IGN:  # nohup: an ignored hangup stays ignored
                continue
            previous[sig] = signal.signal(sig, handler)
        except (ValueError, OSError):  # pragma: no cover - exotic platforms
            pass
    try:
        yield
    finally:
        for sig, old in previous.items():
            with contextlib.suppress(ValueError, OSError, TypeError):
                signal.signal(sig, old if old is not None else signal.SIG_DFL)


def _create_temporary(folder: str, flags: int) -> tuple[str, int]:
    """A new temporary file in ``folder``, created exclusively under a fresh random name (a name taken by a
    file or a link, planted or not, is skipped, never opened)."""
    for attempt in range(16):
        tmp = os.path.join(folder, f"{TMP_PREFIX}{os.getpid()}-{secrets.token_hex(6)}-h{_host_tag()}.tmp")
        try:
            fd = os.open(tmp, flags, 0o600)
        except FileExistsError:
            if attempt == 15:
                raise
            continue
        except OSError as exc:  # ELOOP: O_NOFOLLOW met a link at the name
            if exc.errno != errno.ELOOP or attempt == 15:
                raise
            continue
        _live.add(tmp)
        return tmp, fd
    raise AssertionError("unreachable")  # pragma: no cover


def _destination(path: str | os.PathLike, follow_symlinks: bool) -> str:
    """The absolute destination: its folder resolved, its last component kept (or resolved when following)."""
    raw = os.fspath(path)
    if follow_symlinks:
        return os.path.realpath(raw)
    head, name = os.path.split(os.path.abspath(raw))
    if raw.endswith((os.sep, "/")) or name in ("", ".", ".."):
        raise IsADirectoryError(21, "Is a directory", raw)
    return os.path.join(os.path.realpath(head), name)


def write_atomic(path: str | os.PathLike, text: str | bytes, *, follow_symlinks: bool = False,
                 replace: bool = True) -> str:
    """Write ``text`` to ``path`` atomically (exclusive temporary file in the same folder, fsync, rename).

    The destination keeps its mode if it is an existing file, else gets ``0o666 & ~umask``. A symbolic link at
    ``path`` is replaced by the file (``follow_symlinks=True``: followed, its target replaced). With
    ``replace=False`` an existing destination is left alone and ``FileExistsError`` raised (the file is
    created once, atomically, whoever else writes it). The folder is created if missing. On any failure, on
    Ctrl-C and on SIGTERM / SIGHUP the temporary file is removed and the destination is left as it was; an
    ignored SIGHUP stays ignored. Returns the path written (its folder resolved).
    """
    path = _destination(path, follow_symlinks)
    folder = os.path.dirname(path)
    os.makedirs(folder, exist_ok=True)
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        st = None
    if st is not None and stat.S_ISDIR(st.st_mode):
        raise IsADirectoryError(21, "Is a directory", path)
    if st is not None and not replace:
        raise FileExistsError(17, "File exists", path)
    remove_stale_temporaries(folder)
    mode = stat.S_IMODE(st.st_mode) if st is not None and stat.S_ISREG(st.st_mode) else 0o666 & ~_umask()
    data = text.encode("utf-8") if isinstance(text, str) else bytes(text)
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_BINARY", 0)
    with _signals_cleaned():
        tmp, fd = _create_temporary(folder, flags)
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
            if replace:
                os.replace(tmp, path)
            else:  # link(2) never replaces: the destination is created once, atomically
                os.link(tmp, path, follow_symlinks=False)
                os.unlink(tmp)
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
