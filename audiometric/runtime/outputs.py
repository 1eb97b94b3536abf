"""The one output policy: every file or folder a command writes is checked here before any work starts.

- :func:`check_file` for a single output file (``--json``, ``-o out.npz``): its folder can be made and
  written, it is not under a regular file nor inside an input, and an existing file is replaced only if
  its content shows it is of the same kind (a ``.npz`` that is an npz, not a WAV renamed), else only
  with ``--overwrite``.
- :func:`run_folder` for a command's output folder (``corrupt``, ``sweep``, ``generate``, ``datasets
  export``, ``finetune``): the same location checks, and one "same run?" decision read from the stamp
  file :data:`STAMP` (command, settings, version): the same command with the same settings resumes;
  another command or other settings is refused, naming which run wrote the folder; a non-empty folder
  without a stamp is refused. ``--overwrite`` lets this run take such a folder over: its files replace
  those of the same names, nothing else there is deleted.

Every refusal is an :class:`~audiometric.errors.OutputError` (one line: what, the path, the fix).
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import zipfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from audiometric._version import __version__
from audiometric.errors import OutputError
from audiometric.runtime.atomic import atomic_write_text

#: The stamp file in every run folder (hidden, so folder walks pass over it).
STAMP = ".audiometric-run.json"
_SNIFF_BYTES = 1 << 16
_OVERWRITE = "pass --overwrite to replace it, or choose another path"


def _is_text(head: bytes) -> bool:
    """UTF-8 text (an optional BOM; a multi-byte character cut at the end of ``head`` is allowed)."""
    if b"\0" in head:
        return False
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as err:
        return err.start >= len(head) - 3 and err.reason == "unexpected end of data"
    return True


def _is_json(path: Path, head: bytes) -> bool:
    if head.lstrip(b"\xef\xbb\xbf \t\r\n")[:1] not in (b"{", b"["):
        return False
    try:
        json.loads(path.read_text(encoding="utf-8-sig"))
    except (ValueError, UnicodeDecodeError):
        return False
    return True


def _is_npz(path: Path, head: bytes) -> bool:
    if not head.startswith((b"PK\x03\x04", b"PK\x05\x06")):
        return False
    try:
        with zipfile.ZipFile(path) as archive:
            return all(name.endswith(".npy") for name in archive.namelist())
    except (zipfile.BadZipFile, OSError):
        return False


def _is_html(head: bytes) -> bool:
    start = head.lstrip(b"\xef\xbb\xbf \t\r\n")[:15].lower()
    return _is_text(head) and start.startswith((b"<!doctype html", b"<html"))


#: What each output kind looks like inside (``path``, its first 64 KiB) -> bool.
KINDS: dict[str, Callable[[Path, bytes], bool]] = {
    "json": _is_json,
    "csv": lambda path, head: _is_text(head) and b"," in head.split(b"\n", 1)[0],
    "npz": _is_npz,
    "png": lambda path, head: head.startswith(b"\x89PNG\r\n\x1a\n"),
    "pdf": lambda path, head: head.startswith(b"%PDF-"),
    "html": lambda path, head: _is_html(head),
    "wav": lambda path, head: head[:4] in (b"RIFF", b"RF64") and head[8:12] == b"WAVE",
    "md": lambda path, head: _is_text(head),
    "yaml": lambda path, head: _is_text(head),
    "txt": lambda path, head: _is_text(head),
}


def _resolved(path: str | os.PathLike) -> Path:
    return Path(os.path.abspath(os.path.expanduser(os.fspath(path)))).resolve()


def _inputs(inputs: Iterable[str | os.PathLike | None]) -> list[Path]:
    return [_resolved(p) for p in inputs if p is not None and os.fspath(p) != "-"]


def _check_location(target: Path, shown: str, flag: str, inputs: list[Path]) -> None:
    """``target``'s folder can be made and written, and ``target`` is neither an input nor inside one."""
    for source in inputs:
        if target == source or source in target.parents:
            raise OutputError(
                f"{flag} is inside the input {source}; a command never writes where it reads",
                path=shown,
                fix="choose an output outside every input",
            )
    ancestor = target.parent
    while not ancestor.exists():
        if ancestor.is_symlink():  # a dangling link: makedirs would fail on it
            raise OutputError(f"{flag} lies under a broken link {ancestor}", path=shown, fix="choose another path")
        ancestor = ancestor.parent
    if not ancestor.is_dir():
        raise OutputError(
            f"{flag} lies under {ancestor}, which is a file, not a folder", path=shown, fix="choose another path"
        )
    try:  # a real write: permissions alone miss read-only mounts and what root may not do
        handle, probe = tempfile.mkstemp(dir=ancestor, prefix=".audiometric-probe-")
        os.close(handle)
        os.unlink(probe)
    except OSError as err:
        raise OutputError(
            f"{flag}: cannot write in {ancestor} ({err.strerror})", path=shown, fix="choose a writable path"
        ) from None


def check_file(
    path: str | os.PathLike,
    kind: str,
    *,
    flag: str = "the output",
    inputs: Iterable[str | os.PathLike | None] = (),
    overwrite: bool = False,
) -> Path:
    """Check output file ``path`` (of ``kind``, a key of :data:`KINDS`) before any work; return it resolved.

    ``flag`` names the option in messages (``"--json"``); ``inputs`` are the paths the command reads.
    ``-`` (stdout) passes as ``Path("-")``. An existing empty file counts as any kind; an audio suffix on
    an output of another kind is refused.
    """
    if os.fspath(path) == "-":
        return Path("-")
    from corruptions.pool import AUDIO_EXTENSIONS  # the one list of audio suffixes (imports numpy: lazily)

    shown, target = os.fspath(path), _resolved(path)
    if kind != "wav" and target.suffix.lower() in AUDIO_EXTENSIONS:  # a slip: score would take it for audio
        raise OutputError(f"{flag} names an audio file", path=shown, fix=f"give the {kind} output a .{kind} name")
    _check_location(target, shown, flag, _inputs(inputs))
    if target.is_dir():
        raise OutputError(f"{flag} is a folder, not a file", path=shown, fix="name a file inside it")
    if target.exists():
        if not os.access(target, os.W_OK):
            raise OutputError(f"{flag}: the existing file is not writable", path=shown, fix="choose another path")
        with open(target, "rb") as handle:
            head = handle.read(_SNIFF_BYTES)
        if head and not overwrite and not KINDS[kind](target, head):
            raise OutputError(f"{flag} exists and is not a {kind} file", path=shown, fix=_OVERWRITE)
    return target


def settings_digest(settings: dict[str, Any]) -> str:
    """SHA-256 of ``settings`` as canonical JSON (sorted keys; values JSON cannot hold written with str)."""
    text = json.dumps(settings, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def check_folder(
    path: str | os.PathLike, *, flag: str = "--out", inputs: Iterable[str | os.PathLike | None] = ()
) -> Path:
    """Check where output folder ``path`` lies (its parent can be made and written, it is not a file, not
    inside an input and holds none); return it resolved. :func:`run_folder` does this and more: this is
    for a command that must check its output before it knows every setting of the run."""
    shown, target = os.fspath(path), _resolved(path)
    sources = _inputs(inputs)
    _check_location(target, shown, flag, sources)
    for source in sources:
        if target in source.parents:
            raise OutputError(
                f"{flag} holds the input {source}; a command never writes where it reads",
                path=shown,
                fix="choose an output folder outside every input",
            )
    if target.exists() and not target.is_dir():
        raise OutputError(f"{flag} is a file, not a folder", path=shown, fix="choose a folder")
    return target


@dataclass(frozen=True)
class RunFolder:
    """A checked run folder: ``resume`` when it holds this run's files. :meth:`claim` before writing in it."""

    path: Path
    stamp: dict[str, Any]
    resume: bool

    def claim(self) -> Path:
        """Make the folder and write its stamp (atomically; once per run, by the one writing process)."""
        self.path.mkdir(parents=True, exist_ok=True)
        stamp_path = self.path / STAMP
        if not (self.resume and stamp_path.is_file()):
            atomic_write_text(stamp_path, json.dumps(self.stamp, indent=2, sort_keys=True, default=str) + "\n")
        return self.path


def read_stamp(folder: str | os.PathLike) -> dict[str, Any] | None:
    """The stamp of ``folder``, or ``None`` when it has none (or an unreadable one)."""
    try:
        stamp = json.loads((Path(folder) / STAMP).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return stamp if isinstance(stamp, dict) else None


def _changed(old: dict[str, Any], new: dict[str, Any], prefix: str = "") -> str:
    """The first setting that differs, as ``key=old (now new)`` (``params.mode=...`` inside a mapping)."""
    for key in sorted(set(old) | set(new)):
        before, after = old.get(key), new.get(key)
        if before != after:
            if isinstance(before, dict) and isinstance(after, dict):
                return _changed(before, after, f"{prefix}{key}.")
            return f"{prefix}{key}={before!r} (now {after!r})"
    return "settings"


def run_folder(
    path: str | os.PathLike,
    *,
    command: str,
    settings: dict[str, Any],
    flag: str = "--out",
    inputs: Iterable[str | os.PathLike | None] = (),
    overwrite: bool = False,
) -> RunFolder:
    """Check run folder ``path`` for ``command`` (``"generate"``) with ``settings`` (JSON-able, everything
    that changes the outputs) before any work; writes nothing (:meth:`RunFolder.claim` does).

    Refuses (:class:`OutputError`): a location :func:`check_file` would refuse, an input inside the folder,
    a folder stamped by another command or with other settings, and a non-empty folder with no stamp,
    except with ``overwrite``.
    """
    target = check_folder(path, flag=flag, inputs=inputs)
    shown = os.fspath(path)
    settings = json.loads(json.dumps(settings, sort_keys=True, default=str))  # as the stamp will hold them
    stamp = {"command": f"audiometric {command}", "settings": settings, "settings_digest": settings_digest(settings)}
    stamp["audiometric_version"] = __version__
    if not target.exists():
        return RunFolder(target, stamp, resume=False)
    old = read_stamp(target)
    others = [entry.name for entry in target.iterdir() if entry.name != STAMP]
    if (
        old is not None
        and old.get("command") == stamp["command"]
        and old.get("settings_digest") == stamp["settings_digest"]
    ):
        return RunFolder(target, stamp, resume=True)
    if overwrite or not others:
        return RunFolder(target, stamp, resume=False)
    if old is None:
        raise OutputError(
            f"{flag} is not empty and was not made by `audiometric {command}` (no {STAMP})",
            path=shown,
            fix="choose a new or empty folder, or pass --overwrite to write into it anyway",
        )
    made_by = f"`{old.get('command')}` (audiometric {old.get('audiometric_version')})"
    if old.get("command") != stamp["command"]:
        what = f"{flag} holds the output of {made_by}"
    else:
        what = f"{flag} holds a run of {made_by} with other settings: {_changed(old.get('settings') or {}, settings)}"
    raise OutputError(what, path=shown, fix="choose another folder, or pass --overwrite to replace that run")
