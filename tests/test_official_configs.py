"""The official configs in ``tests/data/encoder_configs.json`` give networks of the published weights' size.

A config value that is wrong (a layer count, a stride, a codebook size) changes the number of parameters; the
float32 ``state_dict`` of each official config, built on the meta device (no weights, no memory), must fill
the published weights file up to its format's header (safetensors JSON header or pickle framing, < 0.1 MB) and
the hub's display rounding. Sizes and sources are recorded beside each config (``published_weights``).
At the hub's 1 MB display step this catches a wrong layer, stage, width, window or tower, not a value worth
less than about 0.5 MB (one AST stride, DAC's codebook count): the shape tests in ``test_encoders.py`` pin those.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

from audiometric.backbones.hf import CLASSES  # noqa: E402  (after the skips)

OFFICIAL = json.loads((Path(__file__).parent / "data" / "encoder_configs.json").read_text())
MODELS = {name: model for name, (model, _) in CLASSES.items()}  # the classes our loaders read
HEADER_MB = 0.1  # safetensors header / pickle framing of a few hundred tensors


@pytest.mark.parametrize("name", sorted(MODELS))
def test_official_config_fills_the_published_weights_file(name: str) -> None:
    model_class = getattr(transformers, MODELS[name])
    official = OFFICIAL[name]
    with torch.device("meta"):
        model = model_class(model_class.config_class(**official["config"]))
    tensor_mb = sum(t.numel() * t.element_size() for t in model.state_dict().values()) / 1e6
    published = official["published_weights"]
    half_step = published["resolution_mb"] / 2
    assert published["mb"] - half_step - HEADER_MB <= tensor_mb <= published["mb"] + half_step, (name, tensor_mb)
    floats = [t.dtype for t in model.state_dict().values() if t.is_floating_point()]
    assert set(floats) == {torch.float32}  # as the published files (integer buffers are stored as they are)
