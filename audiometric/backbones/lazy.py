"""A registered backbone that builds its network on first call.

Everything the pipeline reads before running a network (``name``, ``sample_rate``, ``min_samples``,
``outputs``, ``checkpoint_sha256``, ``precision``) comes from the registry and the remembered checkpoint digest, without
importing torch; when every clip is cached the network is never built.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import TYPE_CHECKING

from audiometric.backbones import check_precision, load, spec
from audiometric.backbones.weights import resolve_checkpoint, sha256_file

if TYPE_CHECKING:
    import torch

    from audiometric.backbones.base import Backbone


class LazyBackbone:
    """Stands in for ``backbones.load(name, checkpoint, device)`` until it is called on a batch."""

    def __init__(
        self,
        name: str,
        device: str | torch.device,
        checkpoint: str | None = None,
        params: Mapping[str, object] | None = None,
        *,
        precision: str = "fp32",
    ):
        """``precision``: the autocast dtype the extractor runs the network under (checked against the registry)."""
        entry = spec(name)
        self.precision = check_precision(name, precision)
        self.name, self.sample_rate, self.min_samples, self.outputs = (
            name,
            entry.sample_rate,
            entry.min_samples,
            entry.outputs,
        )
        self.device, self.checkpoint = device, checkpoint
        self.params: dict[str, object] = dict(params or {})
        self.checkpoint_sha256: str | None = sha256_file(resolve_checkpoint(name, checkpoint))
        self.model: Backbone | None = None
        self._thread: threading.Thread | None = None
        self._error: BaseException | None = None

    def prefetch(self) -> None:
        """Start building in a background thread (loading overlaps decoding); :meth:`build` waits for it."""
        if self.model is None and self._thread is None:
            device = self._target()  # in this thread: CUDA's current device (torchrun's LOCAL_RANK) is per thread
            self._thread = threading.Thread(
                target=self._build_in_background, args=(device,), name=f"load {self.name}", daemon=True
            )
            self._thread.start()

    def wait(self) -> None:
        """Let a background build finish (e.g. before forking worker processes); its error waits for build()."""
        if self._thread is not None:
            self._thread.join()
            self._thread = None

    def build(self) -> Backbone:
        """The network with its weights on the device (built once; the device spec resolved then)."""
        self.wait()
        if self._error is not None:
            error, self._error = self._error, None
            raise error
        if self.model is None:
            self.model = load(self.name, self.checkpoint, self._target(), self.params)
        return self.model

    def _target(self) -> torch.device:
        """The resolved device, with the calling thread's current CUDA device made explicit."""
        import torch

        from audiometric.runtime.device import resolve_device

        device = resolve_device(self.device)
        if device.type == "cuda" and device.index is None:
            device = torch.device("cuda", torch.cuda.current_device())
        return device

    def _build_in_background(self, device: torch.device) -> None:
        try:
            self.model = load(self.name, self.checkpoint, device, self.params)
        except BaseException as err:  # re-raised by build() in the calling thread
            self._error = err

    def __call__(self, wav: torch.Tensor) -> dict[str, torch.Tensor]:
        """``forward`` of the built network: ``(batch, samples)`` at ``sample_rate`` Hz -> outputs."""
        return self.build()(wav)
