"""Verified, resumable download of a published checkpoint into the cache (``download``).

Bytes go to ``<dest>.part`` and are checked against the published digests before an atomic rename; an
interrupted download resumes with an HTTP Range request. ``AUDIOMETRIC_OFFLINE`` refuses the network.
"""

from __future__ import annotations

import http.client
import os
import re
import urllib.error
import urllib.request
from pathlib import Path

from tqdm import tqdm

from audiometric._version import __version__
from audiometric.backbones.weights import WEIGHTS, _digests, _memo, _mismatch
from audiometric.errors import WeightsError

_CHUNK_BYTES = 1 << 20
_TIMEOUT_S = 30.0


def _manual_hint(dest: Path) -> str:
    """The two ways to supply ``dest`` by hand, for error messages."""
    entry = next((w for w in WEIGHTS.values() if w.filename == dest.name), None)
    if entry is None:
        return f"download it by hand and save it as {dest}, or pass its path with --checkpoint NAME=PATH"
    return (
        f"download it by hand and save it as {dest}, or set {entry.env_var}=PATH or pass --checkpoint {entry.name}=PATH"
    )


def _one_line(err: BaseException) -> str:
    if isinstance(err, urllib.error.HTTPError):
        return f"HTTP {err.code} {err.reason}"
    reason = err.reason if isinstance(err, urllib.error.URLError) else err
    return " ".join(str(reason).split()) or type(reason).__name__


def _unreachable(url: str, dest: Path, err: BaseException) -> WeightsError:
    return WeightsError(f"cannot download {dest.name} from {url} ({_one_line(err)}); {_manual_hint(dest)}")


def offline() -> bool:
    """Whether ``AUDIOMETRIC_OFFLINE`` forbids downloads."""
    return os.environ.get("AUDIOMETRIC_OFFLINE", "").strip().lower() in {"1", "true", "yes", "on"}


def _content_range_start(header: str | None) -> int | None:
    """First byte offset of a ``Content-Range: bytes START-END/TOTAL`` header (RFC 9110 14.4)."""
    match = re.match(r"\s*bytes\s+(\d+)-", header or "")
    return int(match.group(1)) if match else None


def download(
    url: str,
    dest: str | Path,
    sha256: str | None = None,
    md5: str | None = None,
    prefix: str | None = None,
    progress: bool = True,
) -> str:
    """Fetch ``url`` (http(s) or file) into ``dest`` and return its sha256 hex digest.

    Bytes go to ``<dest>.part`` first; an existing ``.part`` is resumed with an HTTP Range request
    (restarted from zero when the server answers with the whole file). The finished file is checked
    against ``sha256``/``md5``/``prefix`` (a sha256 hex prefix, torch.hub style) before an atomic
    rename into ``dest``; on mismatch the ``.part`` is deleted and WeightsError raised.
    """
    dest = Path(dest)
    part = dest.with_suffix(dest.suffix + ".part")
    if offline() and not url.startswith("file:"):
        raise WeightsError(f"cannot download {dest.name} from {url} (AUDIOMETRIC_OFFLINE is set); {_manual_hint(dest)}")
    dest.parent.mkdir(parents=True, exist_ok=True)
    _fetch(url, part, dest, progress)
    problem = _mismatch(part, sha256, md5, prefix)
    if problem is not None:
        part.unlink()
        raise WeightsError(
            f"downloaded {dest.name} from {url} does not match its published checksum ({problem}); "
            f"the partial file was deleted, run again to re-download or {_manual_hint(dest)}"
        )
    digests = _digests(part)
    os.replace(part, dest)
    _memo().remember(dest, *digests)
    return digests[0]


def _fetch(url: str, part: Path, dest: Path, progress: bool) -> None:
    """Stream ``url`` into ``part``, appending to what is already there when the server allows it."""
    start = part.stat().st_size if part.exists() else 0
    request = urllib.request.Request(url, headers={"User-Agent": f"audiometric/{__version__}"})
    if start:
        request.add_header("Range", f"bytes={start}-")
    try:
        response = urllib.request.urlopen(request, timeout=_TIMEOUT_S)
    except urllib.error.HTTPError as err:
        if err.code == 416 and start:  # the .part is not a prefix of the file any more: start over
            part.unlink()
            return _fetch(url, part, dest, progress)
        raise _unreachable(url, dest, err) from None
    except (urllib.error.URLError, OSError, http.client.HTTPException) as err:
        raise _unreachable(url, dest, err) from None
    resumed = start > 0 and response.status == 206
    if resumed and _content_range_start(response.headers.get("Content-Range")) != start:
        response.close()  # a different slice than asked for: fetch the whole file instead
        part.unlink()
        return _fetch(url, part, dest, progress)
    with response:
        offset = start if resumed else 0
        length = response.headers.get("Content-Length")
        total = offset + int(length) if length is not None else None
        received = offset
        with (
            part.open("ab" if resumed else "wb") as out,
            tqdm(
                total=total,
                initial=offset,
                unit="B",
                unit_scale=True,
                unit_divisor=1024,
                desc=dest.name,
                disable=not progress,
            ) as bar,
        ):
            try:
                for block in iter(lambda: response.read(_CHUNK_BYTES), b""):
                    out.write(block)
                    received += len(block)
                    bar.update(len(block))
            except (OSError, http.client.HTTPException) as err:
                reason: str | None = _one_line(err)
            else:
                reason = None if total is None or received == total else "connection closed early"
    if reason is not None:
        raise WeightsError(
            f"download of {dest.name} from {url} stopped after {received} of {total} bytes ({reason}); "
            f"run again to resume from {part}, or {_manual_hint(dest)}"
        )
