"""Regenerate ``tests/golden/example_scores.json``: the bundled example's scores on fixed backbones.

``python tests/golden/update.py`` rewrites the table; commit it together with the change that moved a
number, and say why in the commit message (tests/test_golden.py asserts the table).

Cases: the real ``aisfx`` network (its weights ship on PyPI), and PANNs Cnn14 16 kHz + VGGish with
random weights in the official checkpoint layouts. The random weights are NumPy PCG64 uniforms
(He-uniform scale per layer, non-trivial batch-norm statistics; PCG64 bits are stable across NumPy versions), not torch's initialisers, so they do
not move when torch changes its init functions. The STFT and mel buffers of Cnn14 keep their values.
"""

from __future__ import annotations

import json
import math
import sys
import tempfile
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[2]
TABLE = Path(__file__).with_name("example_scores.json")

#: name -> keyword arguments of audiometric.score (besides the sets and extraction options).
CASES: dict[str, dict] = {
    "aisfx": {"metrics": ("fd", "kad"), "backbone": "aisfx"},
    "random-cnn14-vggish": {
        "metrics": ("fd", "is", "kl", "fad", "kad"),
        "backbone": "panns-cnn14-16k",
        "fad_backbone": "vggish",
    },
}
#: Tolerances of the assertion: relative for every value; the IS std (a spread of ten values near 1) also
#: gets an absolute one, as rounding of those values moves it by their own absolute error.
RTOL = 1e-6
#: Keys whose float32 network outputs move more between CPUs (kernel choice) than RTOL allows: the sigmoid
#: KL sums log-ratios of saturated sigmoids (eps 1e-6), which turns 1e-7 logit differences into 1.4e-6
#: (measured: an AMD EPYC against the machine that wrote the table). 1e-5 is the audioldm_eval parity bound.
KEY_RTOL = {"kl_sigmoid": 1e-5}
STD_ATOL = 1e-6
TOLERANCE_NOTE = (
    "relative 1e-6 (IS std: also absolute 1e-6): backbones run in float32, and a CPU with other "
    "SIMD kernels or thread counts may sum in another order (~1e-7 relative on embeddings); metrics "
    "are float64. Measured: bit-identical here with 1 and 2 threads"
)


def _random_state(
    model: torch.nn.Module, seed: int, kept: dict[str, torch.Tensor] | None = None, head: tuple[str, ...] = ()
) -> dict:
    """A state_dict of ``model``'s layout (``model`` may live on the meta device) with every learned tensor
    drawn from ``default_rng([seed, index])``; tensors in ``kept`` are used as given, ``head`` weights are scaled
    down (a He-scaled classifier on unnormalised embeddings gives one-hot softmaxes, so IS would be 1)."""
    kept = kept or {}
    state = {}
    for index, (key, tensor) in enumerate(model.state_dict().items()):
        if key in kept:
            state[key] = kept[key].detach().clone()
            continue
        if tensor.dtype == torch.int64:  # num_batches_tracked
            state[key] = torch.tensor(7)
            continue
        # raw PCG64 bits as int16 -> U[-1, 1): several times faster than rng.random for ~150M weights
        bits = np.random.default_rng([seed, index]).bytes(2 * tensor.numel())
        u = np.frombuffer(bits, dtype=np.int16).astype(np.float32).reshape(tensor.shape) / 32768.0
        if key.endswith("running_var") or (key.endswith(".weight") and tensor.dim() == 1):
            value = 1.0 + 0.5 * u  # batch-norm variances and scales in [0.5, 1.5)
        elif key.endswith(("running_mean", ".bias")):
            value = 0.1 * u
        else:  # He-uniform: U(-a, a), a = sqrt(6 / fan_in); the class head at 1/20 of it, so logits are O(1)
            value = u * math.sqrt(6.0 / tensor[0].numel()) * (0.05 if key in head else 1.0)
        state[key] = torch.from_numpy(value)
    return state


def random_checkpoints(folder: Path) -> dict[str, Path]:
    """Random-weight Cnn14 16 kHz (a training dict, as published) and VGGish (a bare state_dict) files."""
    from audiometric.backbones.panns import CONFIGS, Cnn14At16k, _LogMel, _Spectrogram
    from audiometric.backbones.vggish import VGGish

    folder.mkdir(parents=True, exist_ok=True)
    cfg = CONFIGS["panns-cnn14-16k"]
    front = {
        **{f"spectrogram_extractor.{k}": v for k, v in _Spectrogram(cfg.window, cfg.hop).state_dict().items()},
        **{f"logmel_extractor.{k}": v for k, v in _LogMel(cfg).state_dict().items()},
    }
    with torch.device("meta"):  # layouts only: no 150M-parameter default initialisation
        cnn_layout, vgg_layout = Cnn14At16k(), VGGish()
    cnn, vgg = folder / "Cnn14_16k_golden.pth", folder / "vggish_golden.pth"
    torch.save({"model": _random_state(cnn_layout, 14, front, head=("fc_audioset.weight",)), "iteration": 0}, cnn)
    torch.save(_random_state(vgg_layout, 15), vgg)
    return {"panns-cnn14-16k": cnn, "vggish": vgg}


def example(folder: Path) -> Path:
    """The bundled example (examples/make_example.py) written into ``folder``."""
    sys.path.insert(0, str(ROOT / "examples"))
    try:
        import make_example
    finally:
        sys.path.pop(0)
    make_example.write_set(folder / "ref", seed=0, dull=0.0, noise=0.01)
    make_example.write_set(folder / "gen", seed=1, dull=0.4, noise=0.08)
    return folder


def scores(case: str, data: Path, checkpoints: dict[str, Path]) -> dict[str, float]:
    """Every value (and IS std) of ``case`` on the example in ``data``."""
    import audiometric

    result = audiometric.score(
        data / "gen",
        data / "ref",
        **CASES[case],
        checkpoints=checkpoints,
        device="cpu",
        workers=0,
        cache=False,
        progress=False,
    )
    assert not result.not_computed, result.not_computed
    out = {name: result[name].value for name in result}
    out.update({f"{name}_std": result[name].std for name in result if result[name].std is not None})
    return dict(sorted(out.items()))


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        data, checkpoints = example(Path(tmp) / "example"), random_checkpoints(Path(tmp) / "weights")
        table = {
            "about": "scores of the bundled example (examples/make_example.py); regenerate with "
            "`python tests/golden/update.py` and give the reason in the commit message",
            "tolerance": TOLERANCE_NOTE,
            "torch": torch.__version__,
            "numpy": np.__version__,
            "cases": {
                case: {
                    "options": {k: list(v) if isinstance(v, tuple) else v for k, v in opts.items()},
                    "scores": scores(case, data, checkpoints),
                }
                for case, opts in CASES.items()
            },
        }
    TABLE.write_text(json.dumps(table, indent=2) + "\n")
    print(f"wrote {TABLE}")


if __name__ == "__main__":
    main()
