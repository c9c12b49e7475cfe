"""Output folders simstatus owns: a manifest of what it wrote, and nothing else is touched.

A study folder (``simstatus compare --out``, ``sweep(out=...)``) or a run folder
(``simstatus run --out``) may sit beside a user's own files, or be a folder the user typed by
mistake.  So simstatus marks every folder it writes with :data:`MARKER`, a JSON manifest listing
each path (relative, ``/``-separated) it wrote or is about to write, and follows three rules:

- a folder that is not empty and has no marker is refused (:class:`OutputFolderError`): it is
  someone else's;
- inside a marked folder, only listed paths are replaced or removed, and a path is listed only
  while nothing unlisted is there (a user's file at that name is refused, never overwritten);
- scratch files and folders use names starting with :data:`TMP_PREFIX`, created exclusively, so
  they can never be a user's file; the next writer removes those a killed process left behind.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import tempfile
from collections.abc import Iterable
from pathlib import Path

from .textsafe import escape_control

__all__ = ["MARKER", "TMP_PREFIX", "OutputFolderError", "OutputFolder", "is_own_temp", "temp_prefix",
           "check_writable", "process_gone", "remove_stale_temps", "show_path", "write_atomically"]

#: The manifest that marks a folder as simstatus's own.
MARKER = ".simstatus-manifest.json"
#: Every scratch name simstatus creates starts with this (nobody else's file does).
TMP_PREFIX = ".simstatus-tmp-"
_FORMAT = 1


class OutputFolderError(ValueError):
    """A folder simstatus will not write into (someone else's, a file, unwritable, a damaged marker)."""


def show_path(path: str | os.PathLike) -> str:
    """A path as messages quote it: control characters escaped, at most 300 characters."""
    return escape_control(str(path), limit=300)


def is_own_temp(name: str) -> bool:
    """Whether ``name`` (a file or folder name) is one of simstatus's scratch names."""
    return name.startswith(TMP_PREFIX)


def temp_prefix(name: str) -> str:
    """The scratch-name prefix for writing ``name``: says who (host, pid) so that a later writer
    can tell a killed process's leftovers from a live one's work."""
    return f"{TMP_PREFIX}{name}.{_host()}-{os.getpid()}."


def _host() -> str:
    return socket.gethostname().replace(".", "_")  # no dots: the name's fields are split on them


def process_gone(pid: int) -> bool:
    """Whether process ``pid`` has exited (a zombie, waiting to be reaped, has)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except (PermissionError, OverflowError):  # a live process of another user; no such pid
        return False
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except (OSError, IndexError):  # no /proc: trust kill()
        return False


def _is_stale(name: str) -> bool:
    """A scratch name of a process on this host that no longer runs (a kill left it behind)."""
    try:
        who = name[len(TMP_PREFIX):].split(".")[-2]  # "<name>.<host>-<pid>.<random>"
        host, _, pid = who.rpartition("-")
        return host == _host() and process_gone(int(pid))
    except (ValueError, IndexError):
        return False  # not our format


def remove_stale_temps(folder: str | os.PathLike, name: str | None = None, *, all_of_them: bool = False) -> int:
    """Remove scratch files and folders in ``folder`` left by dead processes (of ``name`` only,
    if given); ``all_of_them`` also removes live-looking ones (the caller knows no writer runs).
    Returns how many were removed.  Nothing without :data:`TMP_PREFIX` is ever touched."""
    base = Path(folder)
    if not base.is_dir():
        return 0
    start = TMP_PREFIX + (f"{name}." if name is not None else "")
    removed = 0
    for entry in base.iterdir():
        if not entry.name.startswith(start) or not (all_of_them or _is_stale(entry.name)):
            continue
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry, ignore_errors=True)
        else:
            entry.unlink(missing_ok=True)
        removed += 1
    return removed


def check_writable(path: str | os.PathLike) -> None:
    """Raise :class:`OutputFolderError` unless ``path`` (a folder to create, or an existing one) can
    be written: checked before hours of simulation, not after.

    The nearest existing ancestor must be a folder, writable per ``os.access`` and by a real
    probe (root passes ``os.access`` on read-only mounts).
    """
    target = Path(path)
    existing = target
    while not existing.exists():
        if existing.is_symlink():  # a dangling link: writing would follow it somewhere else
            raise OutputFolderError(f"{show_path(existing)}: a broken symbolic link")
        if existing.parent == existing:
            break
        existing = existing.parent
    if existing.exists() and not existing.is_dir():
        where = "is" if existing == target else f"is under {show_path(existing)}, which is"
        raise OutputFolderError(f"{show_path(target)} {where} a file, not a folder")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise OutputFolderError(f"{show_path(target)}: cannot write in {show_path(existing)} (permission denied)")
    try:
        fd, probe = tempfile.mkstemp(prefix=temp_prefix("probe"), dir=existing)
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        raise OutputFolderError(f"{show_path(target)}: cannot write in {show_path(existing)} "
                                f"({exc.strerror or exc})") from None


def write_atomically(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` via an exclusive scratch name and a rename: never half a file."""
    fd, tmp = tempfile.mkstemp(prefix=temp_prefix(path.name), dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp's 0600 is for scratch files, not for results
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _relative(path: str | os.PathLike) -> str:
    """A manifest entry: relative, ``/``-separated, inside the folder (no ``..``, no marker)."""
    parts = Path(path).parts
    if not parts or Path(path).is_absolute() or ".." in parts or parts[0] == MARKER:
        raise ValueError(f"not a path inside an output folder: {path!r}")
    return "/".join(parts)


class OutputFolder:
    """A folder simstatus owns; get one with :meth:`claim`.

    >>> folder = OutputFolder.claim("runs/study")            # doctest: +SKIP
    >>> folder.record("comparison.csv")                      # doctest: +SKIP
    >>> folder.write_text("comparison.csv", "a,b\\n")         # doctest: +SKIP
    """

    def __init__(self, root: Path, paths: set[str]) -> None:
        self.root = root
        self._paths = paths

    @classmethod
    def claim(cls, root: str | os.PathLike) -> OutputFolder:
        """The folder at ``root``, created and marked if missing or empty; refused (with
        :class:`OutputFolderError`) if it is a file, unwritable, or not empty without a marker."""
        folder = Path(root)
        check_writable(folder)
        marker = folder / MARKER
        if marker.is_file() or marker.is_symlink():
            return cls(folder, _read_marker(marker))
        if folder.is_dir() and any(folder.iterdir()):
            shown = sorted(p.name for p in folder.iterdir())
            listing = ", ".join(show_path(n) for n in shown[:5]) + (", …" if len(shown) > 5 else "")
            raise OutputFolderError(
                f"{show_path(folder)} is not empty and was not made by simstatus (no {MARKER}; it holds "
                f"{listing}): simstatus writes only into a new or empty folder, or one it made, so that "
                "it never overwrites or deletes your files; choose another folder")
        folder.mkdir(parents=True, exist_ok=True)
        claimed = cls(folder, set())
        claimed._save()
        return claimed

    @property
    def paths(self) -> frozenset[str]:
        """Every path listed in the manifest (relative, ``/``-separated)."""
        return frozenset(self._paths)

    def owns(self, path: str | os.PathLike) -> bool:
        """Whether ``path`` (relative to the folder) is listed, i.e. simstatus may replace it."""
        return _relative(path) in self._paths

    def record(self, paths: Iterable[str | os.PathLike]) -> None:
        """List ``paths`` before writing them.  A path that exists unlisted is someone else's:
        :class:`OutputFolderError`, and nothing is listed."""
        new = [p for p in dict.fromkeys(_relative(p) for p in paths) if p not in self._paths]
        taken = [p for p in new if os.path.lexists(self.root / p)]
        if taken:
            raise OutputFolderError(
                f"{show_path(self.root / taken[0])} exists but was not written by simstatus "
                f"({len(taken)} such path{'s' if len(taken) > 1 else ''}); move it away or choose "
                "another folder: simstatus never overwrites files it did not write")
        if new:
            self._paths.update(new)
            self._save()

    def forget(self, paths: Iterable[str | os.PathLike]) -> None:
        """Remove listed ``paths`` from disk and from the manifest (unlisted ones are left alone)."""
        gone = [p for p in (_relative(p) for p in paths) if p in self._paths]
        for rel in gone:
            target = self.root / rel
            if (target / MARKER).is_file() and not target.is_symlink():
                OutputFolder(target, _read_marker(target / MARKER)).clear()  # its own rules inside
            elif target.is_dir() and not target.is_symlink():
                shutil.rmtree(target)  # a listed folder without a manifest: a damaged run folder
            else:
                target.unlink(missing_ok=True)
        if gone:
            self._paths.difference_update(gone)
            self._save()

    def write_bytes(self, path: str | os.PathLike, data: bytes) -> Path:
        """Record ``path`` and write it atomically (a scratch name, then a rename)."""
        self.record([path])
        target = self.root / _relative(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        write_atomically(target, data)
        return target

    def write_text(self, path: str | os.PathLike, text: str) -> Path:
        """:meth:`write_bytes` of UTF-8 text."""
        return self.write_bytes(path, text.encode("utf-8"))

    def clear(self) -> None:
        """Remove everything simstatus wrote here (listed paths, scratch names), then the marker and
        the folder itself if nothing else is left.  Anything else stays where it is, and so does
        the marker, now listing nothing: the folder is still the one simstatus made, so the next
        study may write there again (``make demo`` twice) without ever touching the rest."""
        listed = [self.root / rel for rel in self._paths]
        # the folders simstatus made to hold what it listed (runs/), deepest first
        parents = {parent for path in listed for parent in path.parents
                   if parent != self.root and self.root in parent.parents}
        self.forget(sorted(self._paths))
        for folder in {self.root, *parents}:
            remove_stale_temps(folder, all_of_them=True)
        for folder in sorted(parents, key=lambda p: len(p.parts), reverse=True):
            try:
                folder.rmdir()  # only if empty: a folder with anything of the user's in it stays
            except OSError:
                pass
        if any(p.name != MARKER for p in self.root.iterdir()):
            return  # someone else's files remain: keep the (now empty) marker
        (self.root / MARKER).unlink(missing_ok=True)
        try:
            self.root.rmdir()
        except OSError:
            pass

    def _save(self) -> None:
        manifest = {"simstatus_output_folder": _FORMAT, "paths": sorted(self._paths)}
        write_atomically(self.root / MARKER, (json.dumps(manifest, indent=1) + "\n").encode("utf-8"))


def _read_marker(marker: Path) -> set[str]:
    """The listed paths, or :class:`OutputFolderError` for a marker that is damaged or not ours."""
    try:
        if marker.is_symlink() or not marker.is_file():
            raise ValueError("not a regular file")
        data = json.loads(marker.read_text(encoding="utf-8"))
        if not (isinstance(data, dict) and data.get("simstatus_output_folder") == _FORMAT
                and isinstance(data.get("paths"), list) and all(isinstance(p, str) for p in data["paths"])):
            raise ValueError("not a simstatus manifest")
        return {_relative(p) for p in data["paths"]}
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise OutputFolderError(f"{show_path(marker)} is damaged or not simstatus's ({show_path(exc)}); "
                                "simstatus will not write into this folder: choose another") from None


def _main(argv: list[str] | None = None) -> int:
    """``python -m simstatus.outdir clear DIR``: remove what simstatus wrote in ``DIR`` and nothing
    else (how ``make demo`` starts afresh); exit 2 with the reason if ``DIR`` is not simstatus's."""
    import sys

    args = sys.argv[1:] if argv is None else argv
    if len(args) != 2 or args[0] != "clear":
        print("usage: python -m simstatus.outdir clear DIR", file=sys.stderr)
        return 2
    if not os.path.lexists(args[1]):
        return 0
    try:
        OutputFolder.claim(args[1]).clear()
    except OutputFolderError as exc:
        print(f"simstatus: error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":  # pragma: no cover - exercised through a subprocess in the tests
    raise SystemExit(_main())
