"""``audiometric score``: extract both sets once, then compute every requested metric with provenance.

The generated set is always a folder; the reference is a folder or a statistics file written by
``audiometric stats`` (then only metrics that need no per-clip reference data are available).
"""

from __future__ import annotations

import importlib.metadata
import platform
import sys
import time
import warnings
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime, timezone
from pathlib import Path

from typing import TYPE_CHECKING

import numpy as np

from . import __version__, backbones
from .audio import Preprocess, compat_fad
from .cache import EmbeddingCache
from .device import checked_device
from .distributed import finish, init
from .embed import RESAMPLER, Extractor, resampler_settings
from .errors import AudiometricError
from .evaluate import Settings, compute, needed_outputs
from .per_clip import per_clip, write_per_clip_csv
from .reference import load_reference
from .sets import extract_folder

if TYPE_CHECKING:
    import torch


@dataclass
class ExtractionOptions:
    """How clips are turned into backbone outputs (no effect on values beyond float rounding)."""

    device: str = "auto"
    batch_size: int = 16
    workers: int = 2
    preprocess: Preprocess = field(default_factory=Preprocess)
    strict: bool = False
    use_cache: bool = True
    progress: bool = True
    #: per-backbone preprocessing overrides (``--compat`` gives the FAD backbone audioldm_eval's FAD input)
    views: dict[str, Preprocess] = field(default_factory=dict)
    #: score files that decode shorter than their header says (a warning) instead of skipping them
    allow_truncated: bool = False


def versions() -> dict[str, str]:
    """Versions of everything that can change a number."""
    import scipy
    import soundfile
    import soxr

    torch = sys.modules.get("torch")  # a fully cached run does not import it: read the installed version
    return {"audiometric": __version__, "python": platform.python_version(),
            "torch": torch.__version__ if torch else importlib.metadata.version("torch"),
            "numpy": np.__version__, "scipy": scipy.__version__, "soundfile": soundfile.__version__,
            "libsndfile": soundfile.__libsndfile_version__, "soxr": soxr.__version__}


def load_models(needs: dict[str, set[str]], device: torch.device | str) -> dict[str, backbones.LazyBackbone]:
    """Each needed backbone with its checkpoint digest, built on ``device`` only when first run on a clip
    the cache lacks; a one-line error if it lacks an output a metric reads."""
    models = {}
    for name, outputs in needs.items():
        missing = outputs - set(backbones.spec(name).outputs)
        if missing:
            raise AudiometricError(f"backbone '{name}' has no '{', '.join(sorted(missing))}' output (it gives "
                                   f"{', '.join(backbones.spec(name).outputs)}); choose other --metrics or "
                                   "another --backbone")
        models[name] = backbones.LazyBackbone(name, device)
    return models


def make_extractor(needs: dict[str, set[str]], opts: ExtractionOptions, progress: bool = True) -> Extractor:
    """Backbones (built on first use) for the chosen device, wrapped in an extractor with the default cache."""
    device = checked_device(opts.device)
    return Extractor(load_models(needs, device), device, opts.preprocess, EmbeddingCache.default(opts.use_cache),
                     opts.batch_size, opts.workers, opts.progress and progress, views=opts.views,
                     allow_truncated=opts.allow_truncated)


def score(generated: str, reference: str, settings: Settings, opts: ExtractionOptions,
          per_clip_csv: str | None = None) -> dict | None:
    """Score the folder ``generated`` against ``reference`` (folder or stats ``.npz``): a JSON-able result.

    ``per_clip_csv``: also write the per-clip outlier ranking there (:mod:`audiometric.per_clip`).

    Under ``torchrun`` every rank extracts its shard; rank 0 computes and returns the result, others ``None``.
    """
    start = time.perf_counter()
    rank, size = init(opts.device)
    needs = needed_outputs(settings)
    if settings.compat and "fad" in settings.metrics and settings.fad_backbone != settings.backbone:
        opts = replace(opts, views={**opts.views, settings.fad_backbone: compat_fad(opts.preprocess)})
    ref_stats = load_reference(reference) if Path(reference).is_file() else None
    extractor = make_extractor(needs, opts, progress=rank == 0)
    if ref_stats is not None:
        ref_stats.check_compatible(extractor.backbones, opts.preprocess)
    gen = extract_folder(generated, extractor, opts.strict, rank, size, "generated")
    ref = None if ref_stats else extract_folder(reference, extractor, opts.strict, rank, size, "reference")
    finish()
    extracted = time.perf_counter()
    if rank != 0:
        return None
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        values, not_computed = compute(settings, gen, ref, ref_stats, progress=opts.progress)
        if per_clip_csv:
            write_per_clip_csv(per_clip(settings, gen, ref, ref_stats), per_clip_csv)
    messages = sorted({str(w.message) for w in caught})
    for message in messages:
        warnings.warn(message, stacklevel=2)
    done = time.perf_counter()
    extractions = [gen.extraction] + ([ref.extraction] if ref else [])
    cache = extractor.cache
    return {
        "audiometric": __version__,
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "metrics": values,
        "not_computed": not_computed,
        "warnings": messages,
        "generated": gen.summary(),
        "reference": ref.summary() if ref else ref_stats.summary(),
        "backbones": {name: {"checkpoint_sha256": m.checkpoint_sha256, "sample_rate": m.sample_rate,
                             "min_samples": m.min_samples, "outputs": sorted(needs[name])}
                      for name, m in extractor.backbones.items()},
        "preprocessing": {**opts.preprocess.as_dict(), "resampler": RESAMPLER,
                          **({"per_backbone": {name: {**view.as_dict(), "resampler": resampler_settings(view)}
                                               for name, view in sorted(opts.views.items())}} if opts.views else {})},
        "settings": {**asdict(settings), "metrics": list(settings.metrics)},
        "seeds": {"inception_score_permutation": 2020, "bootstrap": settings.seed, "fd_inf": settings.seed},
        "device": (str(extractor.resolved) if extractor.resolved is not None
                   else f"{opts.device} (unused: every output was cached)"),
        "world_size": size,
        "batch_size": opts.batch_size,
        "cache": {"dir": str(cache.root) if cache.root else None,
                  "hits": sum(e.cache_hits for e in extractions), "misses": sum(e.cache_misses for e in extractions)},
        "timings_s": {"extraction": round(extracted - start, 3), "metrics": round(done - extracted, 3),
                      "total": round(done - start, 3)},
        "versions": versions(),
    }
