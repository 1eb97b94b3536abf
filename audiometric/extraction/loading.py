"""The decoding side of extraction: a torch ``Dataset`` whose items are decoded, resampled files.

Imported only when some clip misses the cache (it imports torch). Worker processes run
:meth:`Files.__getitem__`; the main process runs the backbones on what they return.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch.utils.data import DataLoader, Dataset

from audiometric.audio.decode import load
from audiometric.audio.kaiser import resample_kaiser_best
from audiometric.audio.preprocess import Preprocess
from audiometric.audio.resample import resample
from audiometric.errors import AudioDecodeError
from audiometric.extraction.cache import EmbeddingCache
from audiometric.extraction.probe import CacheKey, Item, probe


class Files(Dataset[Item]):
    """Decodes and resamples (for the backbones the cache lacks) the files ``todo`` names.

    ``rates``: backbone name -> its sample rate in Hz; ``views``: backbone name -> its preprocessing view;
    ``resample_here``: resample in the worker (else the main process resamples on the device).
    """

    def __init__(
        self,
        *,
        todo: list[tuple[int, Path]],
        keys: dict[str, CacheKey],
        rates: dict[str, int],
        views: dict[str, Preprocess],
        cache: EmbeddingCache,
        resample_here: bool,
        allow_truncated: bool,
    ):
        self.todo, self.keys, self.rates, self.views = todo, keys, rates, views
        self.cache, self.resample_here, self.allow_truncated = cache, resample_here, allow_truncated

    def __len__(self) -> int:
        return len(self.todo)

    def __getitem__(self, position: int) -> Item:
        index, path = self.todo[position]
        try:
            item = probe(index, path, self.keys, self.cache)
            missing = [name for name in self.keys if name not in item.cached]
            if not missing:  # cached since the main process looked
                return item
            views = list(dict.fromkeys(self.views[name] for name in missing))
            loaded = load(path, views, self.allow_truncated, item.sha256)
            item.sample_rate, item.channels = loaded.info.sample_rate, loaded.info.channels
            item.frames, item.notes = loaded.length, loaded.notes
            item.float_pcm = loaded.info.float_pcm
            for view, rate in sorted({(self.views[name], self.rates[name]) for name in missing}, key=repr):
                mono = loaded.views[view]
                if view.resampler == "kaiser_best":  # numpy (resampy's filter), always here
                    wave = torch.from_numpy(resample_kaiser_best(mono, item.sample_rate, rate))
                    item.waves[(view, rate)] = (wave, rate)
                elif self.resample_here:
                    item.waves[(view, rate)] = (resample(torch.from_numpy(mono), item.sample_rate, rate), rate)
                else:
                    item.waves[(view, rate)] = (torch.from_numpy(mono), item.sample_rate)
        except AudioDecodeError as err:
            item = Item(index=index, path=str(path), error=str(err))
        return item


def _keep(item: Item) -> Item:
    return item


def _worker_init(_: int) -> None:
    torch.set_num_threads(1)


def loader(files: Files, workers: int) -> DataLoader[Item]:
    """Items one at a time, in order, decoded by ``workers`` processes (0: in this process)."""
    return DataLoader(
        files,
        batch_size=None,
        shuffle=False,
        num_workers=workers,
        collate_fn=_keep,  # type: ignore[arg-type]  # torch's stubs assume batches; batch_size=None passes items
        worker_init_fn=_worker_init if workers else None,
    )
