"""Event permutation: clips composed of several sound events, with ``k`` events moved out of place.

:func:`compose` lays events end to end, separated by ``gap_s`` seconds of silence or overlapped by
``crossfade_s`` seconds of complementary linear fades, and records each event's boundaries. The
reference clip is the composition in the original order; :func:`event_permutation` recomposes the
same events in an order where exactly ``k = severity`` of them are displaced (a derangement of ``k``
randomly chosen positions, the rest in place), so only the order differs. :func:`draw_events` builds
the event list of one clip from a labelled pool (``n_events`` distinct classes).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ._audio import as_channels, restore
from .errors import CorruptionError
from .pool import Pool
from .registry import Corruption, Param


def _layout(lengths: Sequence[int], gap: int, fade: int) -> list[list[int]]:
    """``[start, end)`` sample boundaries of events laid end to end with ``gap`` silence or ``fade`` overlap."""
    bounds, start = [], 0
    for length in lengths:
        bounds.append([start, start + int(length)])
        start += int(length) + gap - fade
    return bounds


def compose(
    events: Sequence[np.ndarray], sample_rate: int, gap_s: float = 0.0, crossfade_s: float = 0.0
) -> tuple[np.ndarray, dict]:
    """Compose ``events`` (each ``(samples,)`` or ``(channels, samples)``) into one float32 clip.

    Mono events are copied to every channel when others are multichannel; differing multichannel
    layouts are an error. Boundaries (``[start, end)`` samples, fades included) are recorded.
    """
    if len(events) < 1:
        raise CorruptionError("compose: need at least one event")
    if gap_s < 0 or crossfade_s < 0 or (gap_s > 0 and crossfade_s > 0):
        raise CorruptionError("compose: gap_s and crossfade_s must be >= 0 and not both positive")
    arrays = [as_channels(e) for e in events]
    channels = max(a.shape[0] for a, _ in arrays)
    if any(a.shape[0] not in (1, channels) for a, _ in arrays):
        raise CorruptionError("compose: events have different channel counts; downmix them first")
    gap, fade = round(gap_s * sample_rate), round(crossfade_s * sample_rate)
    lengths = [a.shape[-1] for a, _ in arrays]
    if fade and min(lengths) <= 2 * fade:
        raise CorruptionError(f"compose: every event must be longer than two crossfades ({2 * fade} samples)")
    bounds = _layout(lengths, gap, fade)
    out = np.zeros((channels, bounds[-1][1]))
    ramp = (np.arange(fade) + 0.5) / fade if fade else np.zeros(0)
    for i, ((a, _), (start, end)) in enumerate(zip(arrays, bounds)):
        shaped = np.repeat(a, channels, axis=0) if a.shape[0] == 1 else a.copy()
        if fade and i > 0:
            shaped[:, :fade] *= ramp
        if fade and i < len(arrays) - 1:
            shaped[:, -fade:] *= ramp[::-1]
        out[:, start:end] += shaped
    mono = all(m for _, m in arrays)
    return restore(out, mono), {"boundaries": bounds, "gap_samples": gap, "crossfade_samples": fade}


def derangement_order(rng: np.random.Generator, n_events: int, k: int) -> tuple[list[int], list[int]]:
    """An order of ``n_events`` where exactly ``k`` positions hold another event; also those positions."""
    if k == 0:
        return list(range(n_events)), []
    positions = np.sort(rng.choice(n_events, size=k, replace=False))
    while True:  # rejection sampling of a uniform derangement; expected e tries (Montmort 1713)
        perm = rng.permutation(k)
        if np.all(perm != np.arange(k)):
            break
    order = np.arange(n_events)
    order[positions] = positions[perm]
    return [int(i) for i in order], [int(p) for p in positions]


def event_permutation(
    audio: np.ndarray,
    sample_rate: int,
    rng: np.random.Generator,
    severity: int,
    events: Sequence[np.ndarray],
    gap_s: float = 0.0,
    crossfade_s: float = 0.0,
) -> tuple[np.ndarray, dict]:
    """Recompose ``audio`` (= ``compose(events, ...)``) with exactly ``severity`` events displaced.

    ``severity`` is a count: 0 returns ``audio`` unchanged; 1 is impossible (one event cannot move
    alone) and, like values above ``len(events)``, raises :class:`CorruptionError`.
    """
    k = int(CORRUPTION.check(severity, high=len(events)))
    if k != severity or k == 1:
        raise CorruptionError(
            f"event_permutation: severity must be 0 or an integer in 2..{len(events)}, got {severity}"
        )
    if k == 0:
        return audio, {"severity": 0}
    expected = sum(as_channels(e)[0].shape[-1] for e in events)
    expected += (len(events) - 1) * (round(gap_s * sample_rate) - round(crossfade_s * sample_rate))
    if np.shape(audio)[-1] != expected:
        raise CorruptionError("event_permutation: audio is not the composition of these events (length differs)")
    order, displaced = derangement_order(rng, len(events), k)
    out, layout = compose([events[i] for i in order], sample_rate, gap_s, crossfade_s)
    return out, {"severity": k, "order": order, "displaced": displaced, **layout}


def draw_events(
    pool: Pool, rng: np.random.Generator, n_events: int, sample_rate: int, event_max_s: float = 0.0
) -> tuple[list[np.ndarray], list[dict]]:
    """``n_events`` mono events from distinct pool classes, each cropped to ``event_max_s`` seconds (0: whole clip)."""
    classes = pool.classes()
    if len(classes) < n_events:
        raise CorruptionError(
            f"pool {pool.source} has {len(classes)} classes, need {n_events} distinct ones; lower n_events"
        )
    events, infos = [], []
    for label in rng.choice(classes, size=n_events, replace=False):
        clips = pool.clips(str(label))
        audio, info = pool.load(clips[int(rng.integers(len(clips)))], sample_rate)
        if audio.shape[0] > 1:
            audio, info["channels"] = audio.mean(axis=0, keepdims=True), "downmixed"
        limit = round(event_max_s * sample_rate)
        offset, length = 0, audio.shape[-1]
        if limit and length > limit:
            offset, length = int(rng.integers(0, length - limit + 1)), limit
        info.update(offset=offset, length=length)
        events.append(np.asarray(audio[0, offset : offset + length], dtype=np.float32))
        infos.append(info)
    return events, infos


def load_events(pool: Pool, infos: Sequence[dict], sample_rate: int) -> list[np.ndarray]:
    """Rebuild the events that :func:`draw_events` described in ``infos`` (file hashes are checked)."""
    events = []
    for info in infos:
        clip = pool.find(info["path"])
        if pool.sha256(clip) != info["sha256"]:
            raise CorruptionError(f"{clip.path}: file changed since the reference set was composed; restore it")
        audio, _ = pool.load(clip, sample_rate)
        audio = audio.mean(axis=0, keepdims=True) if audio.shape[0] > 1 else audio
        events.append(np.asarray(audio[0, info["offset"] : info["offset"] + info["length"]], dtype=np.float32))
    return events


GAP_PARAMS = (
    Param(name="gap_s", unit="s", default=0.0, range=">= 0", doc="silence between consecutive events"),
    Param(
        name="crossfade_s",
        unit="s",
        default=0.0,
        range=">= 0 (not with gap_s)",
        doc="overlap of consecutive events with linear fades",
    ),
)

# Parameters of a composed reference set (``audiometric corrupt POOL REF_DIR --compose``).
COMPOSE_PARAMS = (
    Param(name="n_clips", unit="count", default=10, range=">= 1", doc="reference clips to compose", type=int),
    Param(
        name="n_events",
        unit="count",
        default=4,
        range="2..pool classes",
        doc="events per clip, each from a different class",
        type=int,
    ),
    Param(
        name="event_max_s",
        unit="s",
        default=2.0,
        range=">= 0",
        doc="longest event; longer pool clips are cropped at a random offset (0: no crop)",
    ),
    *GAP_PARAMS,
    Param(
        name="sample_rate",
        unit="Hz",
        default=16000,
        range=">= 1",
        doc="sample rate of the composed clips (events resampled with soxr)",
        type=int,
    ),
)

CORRUPTION = Corruption(
    name="event_permutation",
    alias="permute",
    summary="clips composed of events from distinct classes, recomposed with exactly k events out of place",
    apply=event_permutation,
    severity=Param(
        name="severity",
        unit="count",
        default=0,
        range="0 or 2..n_events",
        doc="number of events displaced from their original position",
        type=int,
        bounds=(0, 10),
    ),
    levels=(0, 2, 3, 4),  # 1 is impossible: a lone displaced event has nowhere else to go
    axis="events out of place",
    params=GAP_PARAMS,
    inputs=(
        Param(
            name="events",
            unit="-",
            default=None,
            range="list of arrays",
            doc="the events in their original order (CLI: the reference set's manifest)",
            type=list,
        ),
    ),
)
