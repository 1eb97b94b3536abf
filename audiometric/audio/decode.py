"""One streaming decode of an audio file into every mono view the backbones need.

The file is hashed in one pass of 1 MiB reads, then decoded by libsndfile in blocks of
``BLOCK_FRAMES`` frames, each block folded into every requested :class:`~audiometric.audio.preprocess.Preprocess`
view at once, so memory holds the mono views and one block, never the whole multichannel file. With
``max_seconds`` only the frames kept are read. A file that decodes to fewer frames than its header
promises (truncated mid-data) is an error unless truncation is allowed; decoder messages that libsndfile's
codecs print on stderr are captured and returned, to be reported with the file's name.
"""

from __future__ import annotations

import hashlib
import io
import os
import struct
import sys
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

import numpy as np
import soundfile as sf

from audiometric.audio.files import file_digests
from audiometric.audio.preprocess import Preprocess, finish, keep_frames, mono_block
from audiometric.errors import AudioDecodeError

#: Frames decoded per libsndfile read (256 KiB of int32 per channel).
BLOCK_FRAMES = 1 << 16
_UNKNOWN_LENGTH = 1 << 40  # frame counts above this are libsndfile's "unknown" (SF_COUNT_MAX)
#: Frames a lossy decoder may legitimately fall short of its header's estimate (two MPEG-1 layer III frames).
_LOSSY_SLACK = 2 * 1152
_MIN_STEP = 256  # smallest read when backing off after a decoder error

# Leading bytes of common non-audio files, to name what a file is when libsndfile cannot open it.
_MAGIC = (
    (b"\x89PNG", "PNG image"),
    (b"\xff\xd8\xff", "JPEG image"),
    (b"GIF8", "GIF image"),
    (b"%PDF", "PDF document"),
    (b"PK\x03\x04", "ZIP archive"),
    (b"\x93NUMPY", "NumPy array"),
    (b"\x1f\x8b", "gzip archive"),
    (b"{", "JSON or text"),
    (b"<", "XML or HTML text"),
)


@dataclass(kw_only=True, frozen=True)
class AudioInfo:
    """What the header says: rate in Hz, channels, frames (per channel), container and sample format."""

    sample_rate: int
    channels: int
    frames: int
    format: str
    subtype: str

    @property
    def integer_pcm(self) -> bool:
        """Integer PCM samples (WAV/AIFF/FLAC/ALAC ``PCM_*``), read losslessly as int32."""
        return self.subtype.startswith(("PCM_", "ALAC_"))

    @property
    def float_pcm(self) -> bool:
        """IEEE float samples (``FLOAT``/``DOUBLE``)."""
        return self.subtype in ("FLOAT", "DOUBLE")


@dataclass(kw_only=True)
class Loaded:
    """A decoded file: its sha256, header, frames decoded, one mono view per Preprocess, and notes to report.

    ``length`` is the file's length in frames: the frames decoded when the file was read to its end, the
    header's count when ``max_seconds`` stopped the read earlier.
    """

    sha256: str
    info: AudioInfo
    frames: int
    views: dict[Preprocess, np.ndarray]
    notes: list[str] = field(default_factory=list)
    length: int = 0


def sha256_of(path: Path) -> str:
    """The file's sha256 hex digest (streamed), or :class:`AudioDecodeError` if it cannot be read."""
    try:
        return file_digests(path, "sha256")[0]
    except OSError as err:
        raise AudioDecodeError(f"cannot read file ({err.strerror or err})") from err


def header(path: Path) -> AudioInfo:
    """The header of ``path``; :class:`AudioDecodeError` with a clean reason when it is not audio."""
    with _captured_stderr():
        try:
            with sf.SoundFile(str(path)) as handle:
                return _info(handle)
        except Exception as err:  # libsndfile reports every format problem through one error type per version
            raise AudioDecodeError(_open_reason(path, err)) from None


def load(path: Path, views: Sequence[Preprocess], allow_truncated: bool = False, sha256: str | None = None) -> Loaded:
    """Hash (unless ``sha256`` is given) and decode ``path`` once into each of ``views`` (mono, file rate).

    Views are float32, except int16 (compat) views float32 cannot hold exactly (float64). Raises
    :class:`AudioDecodeError` (one line)
    for unreadable, empty, non-audio, NaN/Inf or (unless ``allow_truncated``) truncated files.
    """
    path = Path(path)
    sha = sha256 or sha256_of(path)
    if not views:
        raise ValueError("load needs at least one view")
    if path.stat().st_size == 0:
        raise AudioDecodeError("empty file (0 bytes)")
    unique = list(dict.fromkeys(views))
    with _captured_stderr() as printed:
        try:
            handle = sf.SoundFile(str(path))
        except Exception as err:
            raise AudioDecodeError(_open_reason(path, err)) from None
        info = _info(handle)
        declared = max(info.frames, _wav_declared_frames(path) or 0)
        keeps = [keep_frames(v, info.sample_rate) for v in unique]
        known = [k for k in keeps if k is not None]
        wanted = max(known) if len(known) == len(keeps) else None
        monos, frames, failure = _read(path, handle, info, unique, wanted, declared)
    notes = [line for line in printed if line]
    reason = truncation(info, declared, frames, wanted, failure)
    if reason is not None:
        if not allow_truncated:
            raise AudioDecodeError(f"{reason}; re-export the file, or pass --allow-truncated to score what decodes")
        notes.append(f"{reason}; scored the decoded part (--allow-truncated)")
    elif failure:
        notes.append(f"decoder stopped early ({failure})")
    if frames == 0:
        raise AudioDecodeError(f"no audio samples (zero-length){_because(failure)}")
    out = {}
    for view, keep in zip(unique, keeps):
        mono = monos[view][: frames if keep is None else min(frames, keep)]
        out[view] = finish(mono, view)
    length = frames if wanted is None or frames < wanted else max(frames, info.frames)
    return Loaded(sha256=sha, info=info, frames=frames, views=out, notes=notes, length=length)


def truncation(info: AudioInfo, declared: int, frames: int, wanted: int | None = None, failure: str = "") -> str | None:
    """Why ``frames`` decoded frames fall short of the ``declared`` ones (of the first ``wanted``), or None.

    The one truncation rule (``score``, ``corrupt``, ``datasets export`` and ``check``, training clips): lossy
    codecs may end up to two MPEG-1 layer III frames short of their header's estimate; unknown lengths pass.
    """
    expected = declared if wanted is None else min(declared, wanted)
    slack = 0 if info.integer_pcm or info.float_pcm else _LOSSY_SLACK
    if declared >= _UNKNOWN_LENGTH or frames >= expected - slack:
        return None
    return (
        f"truncated: the header promises {declared} frames ({declared / info.sample_rate:.3f} s), "
        f"{frames} decoded ({frames / info.sample_rate:.3f} s){_because(failure)}"
    )


def _read(
    path: Path, handle: sf.SoundFile, info: AudioInfo, views: list[Preprocess], wanted: int | None, declared: int
) -> tuple[dict[Preprocess, np.ndarray], int, str]:
    """Decode up to ``wanted`` frames block by block into every view; returns (views, frames, error or "").

    Closes ``handle``. A read that fails returns nothing and leaves libsndfile's handle unusable, so after
    a decoder error the file is reopened and read on from the last good frame in small reads, to keep
    every frame that decodes.
    """
    dtype = "int32" if info.integer_pcm else "float32"
    limit = wanted if wanted is not None else _UNKNOWN_LENGTH
    size = min(limit, declared) if declared < _UNKNOWN_LENGTH else BLOCK_FRAMES
    monos: dict[Preprocess, np.ndarray] = {v: np.empty(size, dtype=_view_dtype(v, info)) for v in views}
    frames, failure, step = 0, "", BLOCK_FRAMES
    try:
        while frames < limit:
            try:
                block = handle.read(min(step, limit - frames), dtype=dtype, always_2d=True)
            except Exception as err:  # a decoder error mid-file (lost sync, failed seek): keep what decodes
                failure = str(err).splitlines()[0] if str(err) else type(err).__name__
                if step == _MIN_STEP:
                    break
                step = _MIN_STEP
                handle.close()
                handle = sf.SoundFile(str(path))
                try:
                    handle.seek(frames)
                except Exception:  # no seeking in a damaged stream: start again from the first frame
                    handle.close()
                    handle, frames = sf.SoundFile(str(path)), 0
                continue
            if block.shape[0] == 0:
                break
            if dtype == "float32" and not np.isfinite(block).all():
                raise AudioDecodeError("contains NaN or Inf samples")
            end = frames + block.shape[0]
            for view in views:
                mono = monos[view]
                if end > mono.shape[0]:  # the header under-promised (or is unknown): grow geometrically
                    monos[view] = mono = np.resize(mono, max(end, 2 * mono.shape[0]))
                mono[frames:end] = mono_block(block, view, info.integer_pcm)
            frames = end
    finally:
        handle.close()
    return monos, frames, failure


def _view_dtype(view: Preprocess, info: AudioInfo) -> type:
    """float32, except int16 views that float32 cannot hold exactly: the mean of > 2 channels, or float files.

    An int16 sample / 32768, or the mean of two (a 17-bit integer / 65536), is exact in float32's 24 bits.
    """
    exact = view.pcm != "int16" or (info.integer_pcm and (info.channels <= 2 or view.channels == "first"))
    return np.float32 if exact else np.float64


def _info(handle: sf.SoundFile) -> AudioInfo:
    return AudioInfo(
        sample_rate=int(handle.samplerate),
        channels=int(handle.channels),
        frames=int(handle.frames),
        format=handle.format,
        subtype=handle.subtype,
    )


def _because(failure: str) -> str:
    return f" (decoder: {failure})" if failure else ""


@dataclass(frozen=True)
class Decoded:
    """A whole file decoded in memory: ``audio`` has shape ``(channels, samples)``, float32 in [-1, 1]."""

    audio: np.ndarray
    sample_rate: int
    sha256: str


def read_and_hash(path: Path) -> tuple[bytes, str]:
    """The file's bytes and their sha256 hex digest (for short clips; long files go through :func:`load`)."""
    try:
        data = Path(path).read_bytes()
    except OSError as err:
        raise AudioDecodeError(f"cannot read file ({err.strerror or err})") from err
    return data, hashlib.sha256(data).hexdigest()


def decode(data: bytes, sha256: str = "") -> Decoded:
    """Decode audio bytes whole with libsndfile; :class:`AudioDecodeError` with a clean reason if unusable
    (empty, not audio, NaN/Inf, or truncated: fewer frames than the header promises, :func:`truncation`)."""
    if not data:
        raise AudioDecodeError("empty file (0 bytes)")
    with _captured_stderr():
        try:
            with sf.SoundFile(io.BytesIO(data)) as handle:
                info = _info(handle)
                samples = handle.read(dtype="float32", always_2d=True)
        except Exception as err:
            raise AudioDecodeError(_reason(data[:16], err)) from None
    declared = max(info.frames, _wav_declared_frames(io.BytesIO(data)) or 0)
    reason = truncation(info, declared, samples.shape[0])
    if reason is not None:
        raise AudioDecodeError(reason)  # the caller names the file and the fix
    rate = info.sample_rate
    if samples.shape[0] == 0:
        raise AudioDecodeError("no audio samples (zero-length)")
    if not np.isfinite(samples).all():
        raise AudioDecodeError("contains NaN or Inf samples")
    return Decoded(audio=np.ascontiguousarray(samples.T), sample_rate=int(rate), sha256=sha256)


def _open_reason(path: Path, err: Exception) -> str:
    """Why libsndfile could not open ``path``, without object reprs or the path (the caller names the file)."""
    try:
        with open(path, "rb") as stream:
            head = stream.read(16)
    except OSError as os_err:
        return f"cannot read file ({os_err.strerror or os_err})"
    return _reason(head, err)


def _reason(head: bytes, err: Exception) -> str:
    """A one-line reason from the file's first bytes and libsndfile's error, without object reprs."""
    for magic, kind in _MAGIC:
        if head.startswith(magic):
            return f"not a recognised audio format ({kind})"
    text = getattr(err, "error_string", None) or (str(err).splitlines()[0] if str(err) else type(err).__name__)
    text = text.split(": ", 1)[1] if text.startswith("Error opening") and ": " in text else text
    return f"cannot decode audio ({text.strip()})"


def _wav_declared_frames(source: Path | BinaryIO) -> int | None:
    """Frames the ``data`` chunk of a RIFF/RIFX WAVE file (a path or a seekable binary stream) declares
    (libsndfile clamps it to the file size).

    ``None`` when not WAVE, the chunk size is a streaming placeholder (0 or 0xFFFFFFFF), or no data chunk
    is found (Microsoft RIFF WAVE spec 1991: chunk = 4-byte id, 4-byte size, payload padded to even).
    """
    try:
        if isinstance(source, (str, Path)):
            with open(source, "rb") as stream:
                return _data_chunk_frames(stream)
        return _data_chunk_frames(source)
    except (OSError, struct.error):
        return None


def _data_chunk_frames(stream: BinaryIO) -> int | None:
    riff = stream.read(12)
    if len(riff) < 12 or riff[:4] not in (b"RIFF", b"RIFX") or riff[8:12] != b"WAVE":
        return None
    order = "<" if riff[:4] == b"RIFF" else ">"
    total, position, block_align = stream.seek(0, os.SEEK_END), 12, 0
    while position + 8 <= total:
        stream.seek(position)
        chunk, size = struct.unpack(order + "4sI", stream.read(8))
        if chunk == b"fmt " and size >= 14:
            block_align = struct.unpack(order + "H", stream.read(14)[12:14])[0]
        elif chunk == b"data":
            return size // block_align if block_align and size not in (0, 0xFFFFFFFF) else None
        position += 8 + size + (size & 1)
    return None


@contextmanager
def _captured_stderr() -> Iterator[list[str]]:
    """Collect what C libraries (libsndfile's codecs, libmpg123) print on file descriptor 2 meanwhile."""
    lines: list[str] = []
    sys.stderr.flush()
    try:
        saved = os.dup(2)
    except OSError:  # no stderr to redirect (closed descriptor): nothing can be printed there either
        yield lines
        return
    with tempfile.TemporaryFile() as sink:
        os.dup2(sink.fileno(), 2)
        try:
            yield lines
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            sink.seek(0)
            lines.extend(line.strip() for line in sink.read().decode("utf-8", "replace").splitlines())
