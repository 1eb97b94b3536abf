"""PaSST parity: audiometric's ``passt`` backbone against hear21passt, with the same random weights.

Builds our :class:`~audiometric.backbones.passt.Passt` with random weights in the official layout (every
tensor drawn at random, layer norms and biases included, so no part of the network can hide), saves them
as a plain state_dict (the layout of ``passt-s-f128-p16-s10-ap.476-swa.pt``), and runs hear21passt in its
own virtual environment (a subprocess; weights, clips and outputs travel as .pt/.npz files). The oracle
side builds hear21passt's network without downloading anything (``get_model(..., pretrained=False)`` for
the official shape, ``PaSST(...)`` directly for ``--config tiny``), the mel front end with the arguments of
``hear21passt.base.get_basic_model``, and ``PasstBasicWrapper(mode="all")``, loads our weights with
``strict=True``, and returns logits and embedding as av-benchmark splits them.

Rows: the log-mel front end, then embedding and logits of the network on clips of their own length
(1 s, 3.3 s, 10 s: hear21passt cuts its time position embeddings for shorter inputs), and of our full
``forward`` against av-benchmark's procedure (cut or zero-pad to 10 s, then the wrapper) on 1 s, 10 s
and 12.5 s clips. Each row: max |ours - oracle| / max |oracle|, target <= 1e-5; exit status 1 on a miss.

The oracle venv (torch 2.9.1 with torchaudio 2.9, as torch's CUDA wheels on x86_64; constraints keep pip
from pulling another torch):
    python3 -m venv /work/oracles/passt
    /work/oracles/passt/bin/pip install torch==2.9.1
    /work/oracles/passt/bin/pip install -c constraints.txt hear21passt timm 'torchaudio==2.9.*'
    (constraints.txt: torch==2.9.1)
Usage: ``python benchmarks/passt_parity.py [--oracle PYTHON] [--config official|tiny] [--layout OUT.json]``;
``--oracle`` defaults to ``$PASST_ORACLE_PYTHON`` or ``/work/oracles/passt/bin/python``. ``--layout``
also writes the oracle network's state_dict keys and shapes (how ``tests/data/passt_layout.json`` was made).
The official size takes about a minute per side on 2 CPU cores.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from audiometric.backbones.passt import CLIP_SAMPLES, Passt, PasstConfig  # noqa: E402

DEFAULT_ORACLE = "/work/oracles/passt/bin/python"
TARGET = 1e-5  # max |ours - oracle| / max |oracle|
RAW_SECONDS = (1.0, 3.3, 10.0)  # network on clips of their own length
PADDED_SECONDS = (1.0, 10.0, 12.5)  # full forward vs av-benchmark's cut-or-pad to 10 s
CONFIGS = {
    "official": PasstConfig(),
    "tiny": PasstConfig(embed_dim=64, depth=2, mlp_dim=128),
}

ORACLE = textwrap.dedent(
    """
    import json, sys
    import numpy as np, torch
    from hear21passt.models.passt import PaSST, get_model
    from hear21passt.models.preprocess import AugmentMelSTFT
    from hear21passt.wrapper import PasstBasicWrapper

    folder = sys.argv[1]
    cfg = json.load(open(folder + "/config.json"))
    torch.set_num_threads(int(cfg["threads"]))
    if cfg["official"]:
        net = get_model(arch="passt_s_swa_p16_128_ap476", pretrained=False)
    else:
        net = PaSST(img_size=(128, 998), patch_size=cfg["patch"], stride=cfg["stride"], in_chans=1,
                    num_classes=cfg["classes"], embed_dim=cfg["embed_dim"], depth=cfg["depth"],
                    num_heads=cfg["heads"], mlp_ratio=cfg["mlp_dim"] / cfg["embed_dim"], distilled=True)
    json.dump({k: list(v.shape) for k, v in net.state_dict().items()}, open(folder + "/layout.json", "w"))
    net.load_state_dict(torch.load(folder + "/weights.pt", weights_only=True), strict=True)
    mel = AugmentMelSTFT(n_mels=128, sr=32000, win_length=800, hopsize=320, n_fft=1024, freqm=48, timem=192,
                         htk=False, fmin=0.0, fmax=None, norm=1, fmin_aug_range=10, fmax_aug_range=2000)
    model = PasstBasicWrapper(mel=mel, net=net, mode="all").eval()
    clips = np.load(folder + "/clips.npz")
    out = {}
    with torch.no_grad():
        for key in clips.files:
            wav = torch.from_numpy(clips[key])
            if key.startswith("padded"):  # av-benchmark extract.py: cut or zero-pad to 320000 samples
                wav = wav[..., :320000] if wav.shape[-1] >= 320000 else torch.nn.functional.pad(
                    wav, (0, 320000 - wav.shape[-1]))
            else:
                out[key + ":mel"] = model.mel(wav).numpy()
            both = model(wav).numpy()
            out[key + ":logits"] = both[:, :cfg["classes"]]
            out[key + ":embedding"] = both[:, cfg["classes"]:]
    np.savez(folder + "/oracle.npz", **out)
    """
)


def randomise(model: Passt, seed: int) -> None:
    """Draw every tensor of the checkpoint layout at random (norm scales around 1), in place."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for key, param in model.named_parameters():
            noise = torch.randn(param.shape, generator=gen)
            if "norm" in key or key.startswith("head.0"):
                param.copy_((1.0 if key.endswith("weight") else 0.0) + 0.1 * noise)
            elif "pos_embed" in key or "token" in key:
                param.copy_(0.5 * noise)
            elif key.startswith("head"):
                param.copy_(0.1 * noise)
            else:
                param.copy_(0.02 * noise)


def clips(seed: int) -> dict[str, np.ndarray]:
    """Two clips per length: tones plus noise, ``(2, samples)`` float32 at 32 kHz."""
    rng = np.random.default_rng(seed)
    out = {}
    for kind, lengths in (("raw", RAW_SECONDS), ("padded", PADDED_SECONDS)):
        for seconds in lengths:
            t = np.arange(int(seconds * 32000)) / 32000
            tones = [0.4 * np.sin(2 * np.pi * rng.uniform(100, 8000) * t) for _ in range(2)]
            wav = np.stack(tones) + 0.1 * rng.standard_normal((2, t.size))
            out[f"{kind}_{seconds:g}s"] = wav.astype(np.float32)
    return out


def ours(model: Passt, waves: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Our outputs under the oracle's keys: mel and network on raw clips, the full forward on padded ones."""
    out = {}
    with torch.inference_mode():
        for key, wav in waves.items():
            x = torch.from_numpy(wav)
            if key.startswith("padded"):
                result = model(x)
                embedding, logits = result["embedding"][:, 0], result["logits"][:, 0]
            else:
                logmel = model.mel(x)
                out[key + ":mel"] = logmel.numpy()
                embedding, logits = model.classify(logmel)
            out[key + ":embedding"], out[key + ":logits"] = embedding.numpy(), logits.numpy()
    return out


def run_oracle(python: str, folder: Path, config: PasstConfig, official: bool) -> float:
    """Run hear21passt on the files in ``folder``; return its wall seconds."""
    settings = {**config.__dict__, "heads": config.heads, "official": official, "threads": torch.get_num_threads()}
    (folder / "config.json").write_text(json.dumps(settings))
    script = folder / "oracle.py"
    script.write_text(ORACLE)
    start = time.perf_counter()
    done = subprocess.run([python, str(script), str(folder)], capture_output=True, text=True, cwd=folder)
    if done.returncode != 0:
        sys.exit(f"oracle failed (exit {done.returncode}):\n{done.stderr[-3000:]}")
    return time.perf_counter() - start


def compare(mine: dict[str, np.ndarray], oracle: dict[str, np.ndarray]) -> list[tuple[str, float]]:
    """(key, max |ours - oracle| / max |oracle|) for every output of the oracle."""
    rows = []
    for key in sorted(oracle):
        ref = oracle[key].astype(np.float64)
        if mine[key].shape != ref.shape:
            rows.append((f"{key} shape {mine[key].shape} != {ref.shape}", float("inf")))
            continue
        rows.append((key, float(np.abs(mine[key] - ref).max() / np.abs(ref).max())))
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--oracle", default=os.environ.get("PASST_ORACLE_PYTHON", DEFAULT_ORACLE))
    parser.add_argument("--config", choices=sorted(CONFIGS), default="official")
    parser.add_argument("--layout", type=Path, help="also write the oracle's state_dict keys and shapes here")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    if not Path(args.oracle).is_file():
        sys.exit(f"no oracle interpreter at {args.oracle}: build the venv (see this script's docstring)")
    config = CONFIGS[args.config]
    model = Passt(config).eval()
    randomise(model, args.seed)
    waves = clips(args.seed)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        torch.save(model.state_dict(), folder / "weights.pt")
        np.savez(folder / "clips.npz", **waves)
        oracle_s = run_oracle(args.oracle, folder, config, args.config == "official")
        oracle = dict(np.load(folder / "oracle.npz"))
        layout = json.loads((folder / "layout.json").read_text())
    if args.layout:  # one key per line: a readable, diffable data file
        lines = [f"  {json.dumps(key)}: {json.dumps(shape)}" for key, shape in layout.items()]
        args.layout.write_text("{\n" + ",\n".join(lines) + "\n}\n")
    start = time.perf_counter()
    mine = ours(model, waves)
    ours_s = time.perf_counter() - start
    rows = compare(mine, oracle)
    print(f"PaSST parity, {args.config} config ({config.embed_dim}-d, {config.depth} blocks), seed {args.seed}")
    print(f"{'output':<34} {'max rel diff':>12}  target {TARGET:g}")
    for key, rel in rows:
        print(f"{key:<34} {rel:>12.3e}  {'PASS' if rel <= TARGET else 'FAIL'}")
    print(
        f"wall: ours {ours_s:.1f} s, oracle {oracle_s:.1f} s (process, incl. its imports); 10 s = {CLIP_SAMPLES} samples"
    )
    return 0 if all(rel <= TARGET for _, rel in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
