"""PaSST backbone: official layout, front end, 10 s cut/pad, loading, and the CLI end to end.

``tests/data/passt_layout.json`` holds the state_dict keys and shapes of hear21passt's
``get_model(arch="passt_s_swa_p16_128_ap476")`` (written by ``benchmarks/passt_parity.py --layout``). The
parity against hear21passt itself runs when its oracle venv exists (see that script), else it skips.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from conftest import write_wav

from audiometric.backbones.passt import CLIP_SAMPLES, Passt, PasstConfig, load_passt
from audiometric.backbones.passt_frontend import FMAX, N_MELS, PasstMel, hz_to_mel_kaldi, kaldi_mel_banks, num_frames
from audiometric.cli import main
from audiometric.errors import WeightsError
from audiometric.metrics import frechet_from_features

ROOT = Path(__file__).resolve().parents[1]
LAYOUT = json.loads((ROOT / "tests" / "data" / "passt_layout.json").read_text())
TINY = PasstConfig(embed_dim=64, depth=1, mlp_dim=128)
ORACLE = os.environ.get("PASST_ORACLE_PYTHON", "/work/oracles/passt/bin/python")


@pytest.fixture(scope="module")
def tiny() -> Passt:
    torch.manual_seed(0)
    model = Passt(TINY).eval()
    with torch.no_grad():  # layer norms and biases off their identity init, so every tensor matters
        for param in model.parameters():
            if param.dim() == 1:
                param.add_(0.1 * torch.randn_like(param))
    return model


@pytest.fixture(scope="module")
def tiny_file(tiny, tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("weights") / "passt_tiny.pt"
    torch.save(tiny.state_dict(), path)
    return path


def test_official_config_has_the_checkpoint_layout():
    with torch.device("meta"):
        model = Passt()
    state = model.state_dict()
    assert {key: list(value.shape) for key, value in state.items()} == LAYOUT
    assert list(state) == list(LAYOUT)  # the same order too: no hidden renaming
    assert PasstConfig.from_state_dict(state, Path("x.pt")) == PasstConfig()
    assert PasstConfig().heads == 12 and sum(v.numel() for v in state.values()) == 86_153_758


def test_kaldi_mel_banks():
    banks = kaldi_mel_banks()
    assert banks.shape == (N_MELS, 513) and not banks[:, -1].any()  # the Nyquist column hear21passt pads
    assert banks.min() >= 0.0 and banks.max() <= 1.0
    # centres evenly spaced in Kaldi mel between 0 and 15 kHz: bin k's peak sits next to its centre frequency
    centres_mel = np.linspace(0.0, hz_to_mel_kaldi(FMAX), N_MELS + 2)[1:-1]
    peaks = hz_to_mel_kaldi(banks.argmax(axis=1) * 32000 / 1024)
    step = np.diff(hz_to_mel_kaldi(np.arange(513) * 32000 / 1024)).max()
    assert np.all(np.abs(peaks - centres_mel) <= step)
    assert not banks[:, int(np.ceil(FMAX / 31.25)) + 1 :].any()  # nothing above 15 kHz


def test_front_end_frames_and_tone_position():
    mel = PasstMel()
    t = np.arange(32000) / 32000
    tone = torch.from_numpy((0.5 * np.sin(2 * np.pi * 2000.0 * t)).astype(np.float32))[None]
    out = mel(tone)
    assert out.shape == (1, N_MELS, num_frames(32000)) == (1, 128, 100) and out.dtype == torch.float32
    centres = np.linspace(0.0, hz_to_mel_kaldi(FMAX), N_MELS + 2)[1:-1]
    expected = int(np.abs(centres - hz_to_mel_kaldi(2000.0)).argmin())
    assert abs(int(out[0, :, 50].argmax()) - expected) <= 1
    silence = mel(torch.zeros(1, 32000))
    assert torch.allclose(silence, torch.full_like(silence, (np.log(1e-5) + 4.5) / 5))


def test_clips_are_cut_or_padded_to_ten_seconds(tiny):
    rng = np.random.default_rng(0)
    long = torch.from_numpy(rng.standard_normal((2, 12 * 32000)).astype(np.float32) * 0.1)
    with torch.inference_mode():
        cut = tiny(long)
        first = tiny(long[:, :CLIP_SAMPLES])
        short = tiny(long[:, :32000])
        padded = tiny(torch.nn.functional.pad(long[:, :32000], (0, CLIP_SAMPLES - 32000)))
        single = tiny(long[1:, :CLIP_SAMPLES])
    assert cut["embedding"].shape == (2, 1, 64) and cut["logits"].shape == (2, 1, 527)
    assert torch.equal(cut["embedding"], first["embedding"]) and torch.equal(short["logits"], padded["logits"])
    assert not torch.allclose(first["embedding"], short["embedding"])
    torch.testing.assert_close(single["embedding"][0], first["embedding"][1], rtol=1e-5, atol=1e-6)  # batched


def test_embedding_is_the_mean_of_both_tokens_and_logits_its_head(tiny):
    with torch.inference_mode():
        logmel = PasstMel()(torch.randn(1, 64000) * 0.1)
        x = tiny.tokens(logmel)
        for block in tiny.blocks:
            x = block(x)
        x = tiny.norm(x)
        embedding, logits = tiny.classify(logmel)
        head = tiny.head[1](tiny.head[0](embedding))
    torch.testing.assert_close(embedding, (x[:, 0] + x[:, 1]) / 2)
    torch.testing.assert_close(logits, head)
    assert x.shape == (1, 2 + 12 * 19, 64)  # 2 s: 200 frames -> (200 - 16) // 10 + 1 = 19 time patches


def test_loader_reads_the_layout_and_refuses_others(tiny, tiny_file, tmp_path):
    model = load_passt(str(tiny_file), "cpu")
    assert model.config == TINY and model.config.heads == 1 and not model.training
    assert len(model.checkpoint_sha256) == 64
    wav = torch.randn(1, 40000) * 0.1
    with torch.inference_mode():
        torch.testing.assert_close(model(wav)["logits"], tiny(wav)["logits"])
    state = tiny.state_dict()
    for bad, match in (
        ({k: v for k, v in state.items() if k != "head_dist.bias"}, "missing keys head_dist.bias"),
        ({**state, "blocks.0.attn.qkv.bias": torch.zeros(5)}, "wrong shapes blocks.0.attn.qkv.bias"),
        ({k: v for k, v in state.items() if k != "cls_token"}, "not a PaSST checkpoint"),
        ({**state, "freq_new_pos_embed": torch.zeros(1, 64, 7, 1)}, "frequency patches"),
        ({"model": state}, "plain state_dict"),
    ):
        path = tmp_path / "bad.pt"
        torch.save(bad, path)
        with pytest.raises(WeightsError, match=match) as err:
            load_passt(str(path), "cpu")
        assert "\n" not in str(err.value) and "passt-s-f128-p16-s10-ap.476-swa.pt" in str(err.value)


def test_score_fd_kad_is_kl_end_to_end(tiny, tiny_file, tmp_path):
    rng = np.random.default_rng(3)
    for folder, noise in (("gen", 0.3), ("ref", 0.05)):
        for i in range(10):  # IS takes 10 splits
            t = np.arange(32000) / 32000
            wav = 0.4 * np.sin(2 * np.pi * rng.uniform(200, 4000) * t) + noise * rng.standard_normal(t.size)
            write_wav(tmp_path / folder / f"c{i}.wav", wav.astype(np.float32), 32000)
    out = tmp_path / "r.json"
    common = ["--backbone", "passt", "--checkpoint", f"passt={tiny_file}", "--workers", "0", "--no-progress"]
    args = ["score", str(tmp_path / "gen"), str(tmp_path / "ref"), "--metrics", "fd,kad,is,kl", "--json", str(out)]
    res = CliRunner().invoke(main, [*args, *common], catch_exceptions=False)
    assert res.exit_code == 0, res.output
    result = json.loads(out.read_text())
    assert {"fd", "kad", "is", "kl_softmax", "kl_sigmoid"} <= set(result["metrics"])
    assert all(np.isfinite(m["value"]) for m in result["metrics"].values())
    assert result["metrics"]["kl_softmax"]["n_pairs"] == 10
    assert len(result["backbones"]["passt"]["checkpoint_sha256"]) == 64
    emb = tmp_path / "gen.npz"
    res = CliRunner().invoke(main, ["embed", str(tmp_path / "gen"), "-o", str(emb), *common], catch_exceptions=False)
    assert res.exit_code == 0, res.output
    stored = np.load(emb)
    wav = torch.from_numpy(np.stack([np.asarray(_read(tmp_path / "gen" / n)) for n in stored["names"]]))
    wav = wav - wav.mean(dim=1, keepdim=True)  # the default view removes DC (Preprocess.remove_dc)
    with torch.inference_mode():
        direct = tiny(wav)["embedding"][:, 0].numpy()
    np.testing.assert_allclose(stored["passt:embedding"].reshape(direct.shape), direct, rtol=1e-5, atol=1e-6)
    ref = tmp_path / "ref.npz"
    CliRunner().invoke(main, ["embed", str(tmp_path / "ref"), "-o", str(ref), *common], catch_exceptions=False)
    fd = frechet_from_features(stored["passt:embedding"], np.load(ref)["passt:embedding"])
    assert result["metrics"]["fd"]["value"] == pytest.approx(fd, rel=1e-6)

    # the embedding cache serves a second run; a statistics file of the reference gives the same FD
    stats, again = tmp_path / "ref_stats.npz", tmp_path / "again.json"
    res = CliRunner().invoke(main, ["stats", str(tmp_path / "ref"), "-o", str(stats), "--metrics", "fd", *common])
    assert res.exit_code == 0, res.output
    res = CliRunner().invoke(
        main, ["score", str(tmp_path / "gen"), str(stats), "--metrics", "fd", "--json", str(again), *common]
    )
    assert res.exit_code == 0, res.output
    second = json.loads(again.read_text())
    assert second["cache"]["misses"] == 0 and second["cache"]["hits"] == 10
    assert second["metrics"]["fd"]["value"] == pytest.approx(result["metrics"]["fd"]["value"], rel=1e-9)


def test_fd_kl_is_on_passt_are_comparable_as_av_benchmark_reports_them(tiny_file, tmp_path):
    """av-benchmark reports FD, KL and IS on PaSST: no "not comparable" note there, unlike KID on passt."""
    rng = np.random.default_rng(5)
    for folder in ("gen", "ref"):
        for i in range(10):  # IS takes 10 splits
            write_wav(tmp_path / folder / f"c{i}.wav", 0.3 * rng.standard_normal(16000).astype(np.float32), 32000)
    out = tmp_path / "r.json"
    metrics = "fd@passt,kl@passt,is@passt,kid@passt"
    args = ["score", str(tmp_path / "gen"), str(tmp_path / "ref"), "--metrics", metrics, "--json", str(out)]
    common = ["--checkpoint", f"passt={tiny_file}", "--workers", "0", "--no-progress"]
    res = CliRunner().invoke(main, [*args, *common], catch_exceptions=False)
    assert res.exit_code == 0, res.output
    result = json.loads(out.read_text())["metrics"]
    for key in ("fd@passt", "kl_softmax@passt", "kl_sigmoid@passt", "is@passt"):
        assert result[key]["backbone"] == "passt" and "not comparable" not in result[key].get("note", ""), key
        assert "av-benchmark" in result[key]["source"]
    assert "not comparable" in result["kid@passt"]["note"]  # KID stays defined on PANNs only


def _read(path: Path) -> np.ndarray:
    import soundfile as sf

    audio, _ = sf.read(path, dtype="float32")
    return audio


@pytest.mark.skipif(not Path(ORACLE).is_file(), reason="hear21passt oracle venv absent (benchmarks/passt_parity.py)")
def test_parity_with_hear21passt_tiny():
    """Same random weights, same clips: every output within 1e-5 relative of hear21passt's."""
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}
    script = str(ROOT / "benchmarks" / "passt_parity.py")
    done = subprocess.run(
        [sys.executable, script, "--config", "tiny", "--oracle", ORACLE], capture_output=True, text=True, env=env
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.count("PASS") == 15 and "FAIL" not in done.stdout


def test_lower_precision_keeps_the_front_end_in_float32(tiny):
    """A bf16 copy runs (window and mel matrix stay float32) and returns float32 close to fp32."""
    import copy

    wav = torch.randn(2, 64000) * 0.1
    half = copy.deepcopy(tiny).to(torch.bfloat16)
    with torch.inference_mode():
        full, low = tiny(wav), half(wav)
    for key in ("embedding", "logits"):
        assert low[key].dtype == torch.float32
        assert float((low[key] - full[key]).abs().max() / full[key].abs().max()) < 3e-2
