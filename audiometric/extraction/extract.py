"""Per-clip backbone outputs for a list of files: decode once, resample once per view and rate, batch, cache.

Each backbone sees one :class:`Preprocess` view of the file (the extractor's, or a per-backbone override
such as ``--compat``'s FAD view); every view comes from the same single streaming decode. Clips are
batched only with clips of the same length (after resampling and padding), so batching never changes a
number beyond float rounding. Outputs are cached per clip and backbone as soon as they exist, so an
interrupted run resumes where it stopped. torch is imported, the device resolved and lazy backbones
built only when some clip misses the cache, so a fully cached run needs none of them.

A backbone whose ``precision`` is fp16 or bf16 runs under ``torch.autocast`` with that dtype (its front end
opts out and stays float32); its outputs come back as float32, and the precision joins its cache key.
"""

from __future__ import annotations

import contextlib
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from tqdm import tqdm

from audiometric.audio.kaiser import kaiser_settings, require_resampy
from audiometric.audio.preprocess import Preprocess
from audiometric.errors import AudioDecodeError
from audiometric.extraction.cache import EmbeddingCache
from audiometric.extraction.probe import CacheKey, Item, probe
from audiometric.runtime.device import resolve_device

if TYPE_CHECKING:
    import torch

    from audiometric.backbones import Backbone, LazyBackbone

#: The resampler's settings, part of every cache key (``resample.resample`` defaults).
RESAMPLER = {"method": "sinc_interp_hann", "lowpass_filter_width": 6, "rolloff": 0.99}

#: Cache entry key of a clip a backbone left out (``Preprocess.short == "drop"``): its resampled length.
EXCLUDED = "excluded_samples"

#: Samples held in partly filled batches before the largest is run early (256 MB of float32).
PENDING_SAMPLES = 1 << 26


@dataclass(kw_only=True)
class Clip:
    """One file's metadata and outputs: ``outputs[backbone][output]`` has shape ``(frames, dim)``."""

    index: int
    path: str
    sha256: str
    sample_rate: int
    channels: int
    seconds: float
    outputs: dict[str, dict[str, np.ndarray]] = field(default_factory=dict)
    #: backbone -> why this clip has no output from it (shorter than its input under ``short="drop"``)
    excluded: dict[str, str] = field(default_factory=dict)


@dataclass(kw_only=True)
class Extraction:
    """Clips in file order, the files skipped with reasons, and counters."""

    clips: list[Clip]
    skipped: list[dict[str, str]]
    cache_hits: int = 0
    cache_misses: int = 0
    seconds: float = 0.0


def resampler_settings(pre: Preprocess) -> dict:
    """The settings of the resampler ``pre`` names, for cache keys and provenance."""
    return kaiser_settings() if pre.resampler == "kaiser_best" else RESAMPLER


def precision_of(model: Backbone | LazyBackbone) -> str:
    """The ``--precision`` a backbone runs in (``fp32`` unless it was built with another)."""
    return str(getattr(model, "precision", "fp32"))


def backbone_record(model: Backbone | LazyBackbone, outputs: set[str] | None = None) -> dict:
    """A backbone's provenance record, the same in results, embedding files and statistics files."""
    record = {
        "checkpoint_sha256": model.checkpoint_sha256,
        "sample_rate": model.sample_rate,
        "min_samples": model.min_samples,
        "precision": precision_of(model),
        **_params(model),
    }
    return record if outputs is None else {**record, "outputs": sorted(outputs)}


def preprocessing_record(pre: Preprocess, views: dict[str, Preprocess] | None = None) -> dict:
    """The preprocessing provenance record: the shared settings, then any per-backbone view (``--compat``)."""
    record = {**pre.as_dict(), "resampler": RESAMPLER}
    if views:
        record["per_backbone"] = {
            name: {**view.as_dict(), "resampler": resampler_settings(view)} for name, view in sorted(views.items())
        }
    return record


def cache_settings(backbone: Backbone | LazyBackbone, pre: Preprocess) -> dict:
    """Everything besides audio bytes and weights that determines a backbone's outputs (a lower precision
    is added, so fp32 keys stay as before and a bf16 entry is never read back for an fp32 run)."""
    precision = precision_of(backbone)
    return {
        "preprocess": pre.as_dict(),
        "resampler": resampler_settings(pre),
        "sample_rate": backbone.sample_rate,
        "min_samples": backbone.min_samples,
        **_params(backbone),
        **({"precision": precision} if precision != "fp32" else {}),
    }


def autocast(precision: str, device: torch.device) -> contextlib.AbstractContextManager:
    """``torch.autocast`` to float16/bfloat16 on ``device`` for ``fp16``/``bf16``; nothing for ``fp32``."""
    import torch

    if precision == "fp32":
        return contextlib.nullcontext()
    dtype = {"fp16": torch.float16, "bf16": torch.bfloat16}[precision]
    return torch.autocast(device.type, dtype=dtype)


def _params(backbone: Backbone | LazyBackbone) -> dict:
    """``{"params": ...}`` for a backbone built with ``--param`` settings, else nothing (keys stay as before)."""
    params = getattr(backbone, "params", None)
    return {"params": {key: str(value) for key, value in sorted(params.items())}} if params else {}


class Extractor:
    """Runs ``backbones`` over files with caching; see the module docstring."""

    def __init__(
        self,
        *,
        backbones: dict[str, Backbone | LazyBackbone],
        device: torch.device | str,
        pre: Preprocess,
        cache: EmbeddingCache,
        batch_size: int = 16,
        workers: int = 2,
        progress: bool = True,
        views: dict[str, Preprocess] | None = None,
        allow_truncated: bool = False,
    ):
        """``views`` overrides ``pre`` per backbone name (e.g. ``--compat``'s FAD view for VGGish);
        ``allow_truncated`` scores files that decode shorter than their header says, with a warning."""
        self.backbones, self.pre, self.cache = backbones, pre, cache
        self._device, self.resolved = device, None if isinstance(device, str) else device
        self.batch_size, self.workers, self.progress = max(1, batch_size), max(0, workers), progress
        self.views = {name: (views or {}).get(name, pre) for name in backbones}
        self.allow_truncated = allow_truncated
        if any(view.resampler == "kaiser_best" for view in self.views.values()):
            require_resampy()  # fail here in one line, not inside a worker
        self._sink: Callable[[Clip], None] | None = None
        self._missing: set[str] = set()  # backbones some clip of the current run lacks in the cache
        # a truncated file's outputs exist only under --allow-truncated: keyed apart, so a run without the
        # flag decodes the file again and skips it instead of serving those outputs from the cache
        extra = {"allow_truncated": True} if allow_truncated else {}
        self.keys = {
            name: CacheKey(model.checkpoint_sha256, {**cache_settings(model, self.views[name]), **extra})
            for name, model in backbones.items()
        }

    @property
    def device(self) -> torch.device:
        """The device the backbones run on, resolved (importing torch) on first use."""
        if self.resolved is None:
            self.resolved = resolve_device(self._device)
        return self.resolved

    def run(self, files: list[Path], desc: str = "embedding", sink: Callable[[Clip], None] | None = None) -> Extraction:
        """Outputs of every backbone for every readable file in ``files`` (kept in file order).

        With ``sink``, each clip is handed to ``sink`` as soon as all its outputs exist (cache hits in file
        order, then computed clips as their batches finish) and its outputs are then dropped, so memory
        does not grow with the number of files; the returned clips keep only their metadata.
        """
        self._sink, self._missing = sink, set()
        start = time.perf_counter()
        clips: dict[int, Clip] = {}
        skipped: dict[int, dict[str, str]] = {}
        self._float_compat: list[str] = []
        with tqdm(total=len(files), desc=desc, unit="file", disable=not self.progress, leave=False) as bar:
            todo, hits = self._from_cache(files, clips, skipped, bar)
            more_hits, misses = self._compute(todo, clips, skipped, bar)
        if self._float_compat:
            warnings.warn(
                f"{len(self._float_compat)} float WAV file(s) (first: {self._float_compat[0]}) under --compat: "
                "audioldm_eval's int16 read would quantise them to {-1, 0, 1}; their float samples are used",
                stacklevel=2,
            )
        return Extraction(
            clips=[clips[i] for i in sorted(clips)],
            skipped=[skipped[i] for i in sorted(skipped)],
            cache_hits=hits + more_hits,
            cache_misses=misses,
            seconds=time.perf_counter() - start,
        )

    def _from_cache(
        self, files: list[Path], clips: dict[int, Clip], skipped: dict[int, dict[str, str]], bar: tqdm
    ) -> tuple[list[tuple[int, Path]], int]:
        """Clips whose every output is cached (a warm run starts no worker at all); returns the rest and hits."""
        if self.cache.root is None:  # nothing to look up: the workers read each file once
            self._missing = set(self.keys)
            return list(enumerate(files)), 0
        todo: list[tuple[int, Path]] = []
        hits = 0
        for index, path in enumerate(files):
            try:
                item = probe(index, path, self.keys, self.cache)
            except AudioDecodeError as err:
                skipped[index] = {"file": str(path), "reason": str(err)}
                bar.update(1)
                continue
            if len(item.cached) < len(self.keys):
                todo.append((index, path))
                self._missing.update(name for name in self.keys if name not in item.cached)
                continue
            clips[index] = self._clip(item)
            self._note_float(item)
            self._complete(clips[index])
            hits += len(item.cached)
            bar.update(1)
        return todo, hits

    def _compute(
        self, todo: list[tuple[int, Path]], clips: dict[int, Clip], skipped: dict[int, dict[str, str]], bar: tqdm
    ) -> tuple[int, int]:
        """Decode, resample and run the backbones on ``todo``, batching equal lengths; returns (hits, misses)."""
        if not todo:
            return 0, 0
        from audiometric.extraction.loading import Files, loader

        rates = {name: model.sample_rate for name, model in self.backbones.items()}
        workers = min(self.workers, len(todo))
        for model in self.backbones.values():  # never fork workers while a network loads in a thread
            getattr(model, "wait", lambda: None)()
        files = Files(
            todo=todo,
            keys=self.keys,
            rates=rates,
            views=self.views,
            cache=self.cache,
            resample_here=self.device.type == "cpu" and self.workers > 0,
            allow_truncated=self.allow_truncated,
        )
        items = iter(loader(files, workers))  # forks the workers; only then start threads
        for name in self._missing:  # build the needed networks while the first clips decode
            getattr(self.backbones[name], "prefetch", lambda: None)()
        buckets: dict[tuple[str, int], list[tuple[int, torch.Tensor]]] = {}
        hits = misses = 0
        for item in items:
            bar.update(1)
            if item.error:
                skipped[item.index] = {"file": item.path, "reason": item.error}
                continue
            for note in item.notes:
                warnings.warn(f"{item.path}: {note}", stacklevel=2)
            self._note_float(item)
            clips[item.index] = clip = self._clip(item)
            hits += len(item.cached)
            misses += self._queue(item, clip, buckets, clips)
            self._complete(clip)
            while sum(len(b) * length for (_, length), b in buckets.items()) > PENDING_SAMPLES:
                largest = max(buckets, key=lambda k: len(buckets[k]) * k[1])
                self._flush(largest[0], buckets.pop(largest), clips)
        for name, length in sorted(buckets):
            self._flush(name, buckets[(name, length)], clips)
        return hits, misses

    def _queue(
        self,
        item: Item,
        clip: Clip,
        buckets: dict[tuple[str, int], list[tuple[int, torch.Tensor]]],
        clips: dict[int, Clip],
    ) -> int:
        """Put ``item``'s wave for each backbone the cache lacks into its (backbone, samples) bucket, running
        full buckets; a clip too short for a backbone under ``short="drop"`` is left out. Returns the misses."""
        import torch.nn.functional as F

        from audiometric.audio.resample import resample

        misses = 0
        for name, model in self.backbones.items():
            if name in item.cached:
                continue
            misses += 1
            wave, rate = item.waves[(self.views[name], model.sample_rate)]
            wave = wave.to(self.device)
            if rate != model.sample_rate:
                wave = resample(wave, rate, model.sample_rate)
            if wave.shape[-1] < model.min_samples and self.views[name].short == "drop":
                clip.excluded[name] = self._excluded_reason(name, wave.shape[-1])
                self.cache.put(self.keys[name].entry(clip.sha256, name), {EXCLUDED: np.array([wave.shape[-1]])})
                continue
            if wave.shape[-1] < model.min_samples:
                wave = F.pad(wave, (0, model.min_samples - wave.shape[-1]))
            bucket = buckets.setdefault((name, wave.shape[-1]), [])
            bucket.append((item.index, wave))
            if len(bucket) >= self.batch_size:
                self._flush(name, buckets.pop((name, wave.shape[-1])), clips)
        return misses

    def _flush(self, name: str, bucket: list[tuple[int, torch.Tensor]], clips: dict[int, Clip]) -> None:
        import torch

        model = self.backbones[name]
        with torch.inference_mode(), autocast(precision_of(model), self.device):
            outputs = model(torch.stack([wave for _, wave in bucket]))
        arrays = {out: tensor.float().cpu().numpy() for out, tensor in outputs.items()}
        for row, (index, _) in enumerate(bucket):
            clip = clips[index]
            clip.outputs[name] = {out: np.ascontiguousarray(array[row]) for out, array in arrays.items()}
            self.cache.put(self.keys[name].entry(clip.sha256, name), clip.outputs[name])
            self._complete(clip)

    def _note_float(self, item: Item) -> None:
        """Remember float files an int16 (``--compat``) view reads, for the one warning at the end of :meth:`run`."""
        if item.float_pcm and any(view.pcm == "int16" for view in self.views.values()):
            self._float_compat.append(item.path)

    def _clip(self, item: Item) -> Clip:
        clip = Clip(
            index=item.index,
            path=item.path,
            sha256=item.sha256,
            sample_rate=item.sample_rate,
            channels=item.channels,
            seconds=item.frames / item.sample_rate,
        )
        for name, outputs in item.cached.items():
            if EXCLUDED in outputs:
                clip.excluded[name] = self._excluded_reason(name, int(outputs[EXCLUDED][0]))
            else:
                clip.outputs[name] = outputs
        return clip

    def _excluded_reason(self, name: str, samples: int) -> str:
        model = self.backbones[name]
        return (
            f"{samples} samples at {model.sample_rate} Hz after resampling, shorter than {name}'s "
            f"{model.min_samples}: left out of its metrics, as audioldm_eval's FAD does"
        )

    def _complete(self, clip: Clip) -> None:
        """Hand a clip whose every backbone output exists (or was left out) to the sink, then drop its outputs."""
        if self._sink is not None and len(clip.outputs) + len(clip.excluded) == len(self.backbones):
            self._sink(clip)
            clip.outputs = {}
