"""fp16 and bf16 against fp32 for every backbone, on the bundled example, through ``Scorer(precision=...)``.

For each backbone available here (``aisfx`` with its trained weights; Cnn14 16 kHz and VGGish with random
weights in the official layouts, as tests/golden; small random transformers encoders: AST with 4 blocks of
192 on the official 128 x 1024 input, the test suite's tiny CLAP, EnCodec, DAC and WavLM; a random PaSST,
tiny by default or ``--passt official``), the example's generated and reference sets (24 clips of 4 s) are
embedded and scored (FD, KAD) once per precision, and printed side by side:

- the largest relative difference of the embeddings (and logits) to fp32, ``max |x - x32| / max |x32|``;
- the relative difference of FD and KAD to their fp32 values;
- the time ratio of the extraction (decode + network, network already built) to fp32's, and the cache
  misses of the run (a lower precision has its own cache entries, so it never reads fp32's back);
- whether the backbone registry allows that precision (``Spec.precisions``).

Every precision is measured, whatever the registry allows (the registry is widened here, not in the
package). Random weights say something about the arithmetic, nothing about a trained model's tolerance.

Usage: ``python benchmarks/precision.py [--device cpu|cuda] [--backbones a,b] [--precisions fp16,bf16]
[--threads 1] [--passt tiny|official] [--json OUT]``. Results: docs/metrics.md, section "Precision".
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import soundfile as sf
import torch

ROOT = Path(__file__).resolve().parents[1]
for folder in (ROOT / "tests", ROOT / "tests" / "golden", ROOT / "benchmarks"):
    sys.path.insert(0, str(folder))

import update  # noqa: E402  # tests/golden/update.py: the example and random Cnn14/VGGish checkpoints

from audiometric import Scorer, backbones  # noqa: E402
from audiometric.backbones.passt import Passt, PasstConfig  # noqa: E402

TRANSFORMERS = ("ast-audioset", "clap-laion", "encodec-24k", "dac-44k", "wavlm-base-plus")
ORDER = ("aisfx", "panns-cnn14-16k", "vggish", *TRANSFORMERS, "passt")


def small_ast(folder: Path) -> Path:
    """A random ASTForAudioClassification, 4 blocks of 192, the official 128 x 1024 input and 527 labels."""
    import transformers

    torch.manual_seed(0)
    config = transformers.ASTConfig(hidden_size=192, num_hidden_layers=4, num_attention_heads=3, intermediate_size=768)
    transformers.ASTForAudioClassification(config).save_pretrained(folder)
    transformers.ASTFeatureExtractor().save_pretrained(folder)
    return folder


def random_passt(path: Path, size: str) -> Path:
    """A PaSST state dict with every tensor drawn (benchmarks/passt_parity.py), tiny or official size."""
    from passt_parity import randomise

    model = Passt(PasstConfig(embed_dim=64, depth=2, mlp_dim=128) if size == "tiny" else PasstConfig())
    randomise(model, seed=1)
    torch.save(model.state_dict(), path)
    return path


def checkpoints(names: list[str], folder: Path, passt: str) -> dict[str, str | None]:
    """Backbone name -> checkpoint to run it with (``None``: its default, the trained weights of aisfx)."""
    out: dict[str, str | None] = {"aisfx": None}
    out.update({k: str(v) for k, v in update.random_checkpoints(folder / "golden").items()})
    if any(name in TRANSFORMERS for name in names):
        from test_encoders import TINY  # tests/test_encoders.py: tiny random configs of the real classes

        out["ast-audioset"] = str(small_ast(folder / "ast-audioset"))
        for name in TRANSFORMERS[1:]:
            out[name] = str(TINY[name](folder / name))
    if "passt" in names:
        out["passt"] = str(random_passt(folder / "passt.pt", passt))
    return {name: out[name] for name in names}


def warm_clip(folder: Path) -> Path:
    """A folder holding one 1 s noise clip not in the example, to build a network before timing."""
    folder.mkdir(parents=True, exist_ok=True)
    noise = np.random.default_rng(7).standard_normal(22050).astype(np.float32) * 0.1
    sf.write(folder / "warm.wav", noise, 22050)
    return folder


def measure(name: str, checkpoint: str | None, precision: str, data: Path, device: str) -> dict:
    """FD, KAD, both sets' outputs and the extraction time of ``name`` in ``precision``."""
    scorer = Scorer(
        (name, name),
        device=device,
        checkpoints={name: checkpoint} if checkpoint else None,
        precision=precision,
        workers=0,
        progress=False,
    )
    scorer.embed(warm_clip(data / "warm"))  # builds the network
    result = scorer.score(data / "gen", data / "ref", "fd,kad")
    assert result is not None and not result.not_computed, result and result.not_computed
    arrays = {side: scorer.embed(data / side) for side in ("gen", "ref")}  # cache hits of this precision
    outputs = {
        out: np.concatenate([arrays[side][f"{name}:{out}"] for side in ("gen", "ref")]).astype(np.float64)
        for out in backbones.spec(name).outputs
    }
    return {
        "fd": result["fd"].value,
        "kad": result["kad"].value,
        "seconds": result.as_dict()["timings_s"]["extraction"],
        "misses": result.as_dict()["cache"]["misses"],
        "outputs": outputs,
    }


def relative(a: np.ndarray | float, b: np.ndarray | float) -> float:
    """``max |a - b| / max |b|``."""
    return float(np.max(np.abs(np.asarray(a) - np.asarray(b))) / np.max(np.abs(np.asarray(b))))


def row(name: str, precision: str, run: dict, base: dict) -> dict:
    """One table row: differences to fp32 and the time ratio."""
    return {
        "backbone": name,
        "precision": precision,
        "embedding": relative(run["outputs"]["embedding"], base["outputs"]["embedding"]),
        "logits": relative(run["outputs"]["logits"], base["outputs"]["logits"]) if "logits" in run["outputs"] else None,
        "fd": relative(run["fd"], base["fd"]),
        "kad": relative(run["kad"], base["kad"]),
        "time_ratio": run["seconds"] / base["seconds"],
        "seconds": run["seconds"],
        "misses": run["misses"],
        "allowed": precision in backbones.spec(name).precisions,
    }


def widen_registry(names: list[str]) -> None:
    """Let every precision through the registry check, so untolerated ones are measured too."""
    for name in names:
        backbones._REGISTRY[name] = dataclasses.replace(backbones.spec(name), precisions=backbones.PRECISIONS)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--backbones", default=",".join(ORDER))
    parser.add_argument("--precisions", default="bf16,fp16")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--passt", choices=("tiny", "official"), default="tiny")
    parser.add_argument("--json", default=None)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    warnings.simplefilter("ignore")  # the example's few clips make FD warn about rank; same at every precision
    try:
        import transformers

        transformers.logging.disable_progress_bar()
    except ImportError:
        pass
    names = [n for n in args.backbones.split(",") if n]
    allowed = {name: backbones.spec(name).precisions for name in names}
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["AUDIOMETRIC_HOME"] = str(Path(tmp) / "home")  # a fresh embedding cache
        data = update.example(Path(tmp) / "example")
        weights = checkpoints(names, Path(tmp) / "weights", args.passt)
        widen_registry(names)
        print(
            f"device {args.device}, torch {torch.__version__}, threads {torch.get_num_threads()}, load {os.getloadavg()[0]:.1f}"
        )
        print(
            f"{'backbone':<16} {'prec':<5} {'embedding':>9} {'logits':>9} {'FD':>9} {'KAD':>9} {'time':>6} {'misses':>6}  registry"
        )
        for name in names:
            start = time.perf_counter()
            base = measure(name, weights[name], "fp32", data, args.device)
            for precision in args.precisions.split(","):
                try:
                    r = row(name, precision, measure(name, weights[name], precision, data, args.device), base)
                except RuntimeError as err:  # an op without a kernel for this dtype on this device
                    print(f"{name:<16} {precision:<5} failed: {str(err).splitlines()[0][:90]}")
                    rows.append({"backbone": name, "precision": precision, "error": str(err).splitlines()[0]})
                    continue
                r["allowed"] = precision in allowed[name]
                rows.append(r)
                logits = f"{r['logits']:9.1e}" if r["logits"] is not None else f"{'-':>9}"
                print(
                    f"{name:<16} {precision:<5} {r['embedding']:9.1e} {logits} {r['fd']:9.1e} {r['kad']:9.1e} "
                    f"{r['time_ratio']:5.2f}x {r['misses']:>6}  {'allowed' if r['allowed'] else 'refused'}"
                )
            print(f"{'':<16} (fp32 extraction {base['seconds']:.1f} s; {time.perf_counter() - start:.0f} s in all)")
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
