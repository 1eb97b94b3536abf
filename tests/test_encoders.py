"""The transformers encoders: tiny random configs of the real classes, end to end as users run them.

Each backbone is saved with ``save_pretrained`` into a folder and passed as ``--checkpoint NAME=DIR``;
its embeddings must equal a direct call of the transformers model; FD and KAD run through the CLI; the
cache and statistics files work. The official configs (``tests/data/encoder_configs.json``, values from
each model card's config.json) are built on the meta device to check the layouts our loaders read.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from conftest import tone_set

from audiometric.backbones import load
from audiometric.cli import main
from audiometric.errors import AudiometricError, WeightsError

transformers = pytest.importorskip("transformers")

OFFICIAL = json.loads((Path(__file__).parent / "data" / "encoder_configs.json").read_text())


@pytest.fixture(autouse=True)
def _one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _tiny_tokenizer(folder: Path) -> None:
    """A byte-level BPE tokenizer over letters only (RoBERTa's class, as CLAP uses), saved into ``folder``."""
    letters = "abcdefghijklmnopqrstuvwxyz"
    vocab = ["<s>", "<pad>", "</s>", "<unk>", "<mask>", *letters, *("\u0120" + c for c in letters)]
    (folder / "vocab.json").write_text(json.dumps({token: i for i, token in enumerate(vocab)}))
    (folder / "merges.txt").write_text("#version: 0.2\n")
    transformers.RobertaTokenizer(str(folder / "vocab.json"), str(folder / "merges.txt")).save_pretrained(folder)


def tiny_clap(folder: Path) -> Path:
    """A random ClapModel small enough for CPU tests (16 mel bands, so spec_size 128 holds 10 s)."""
    torch.manual_seed(0)
    config = transformers.ClapConfig(
        text_config={
            "vocab_size": 64,
            "hidden_size": 16,
            "num_hidden_layers": 1,
            "num_attention_heads": 2,
            "intermediate_size": 32,
            "max_position_embeddings": 40,
        },
        audio_config={
            "hidden_size": 16,
            "patch_embeds_hidden_size": 8,
            "depths": [1, 1],
            "num_attention_heads": [1, 1],
            "spec_size": 128,
            "num_mel_bins": 16,
            "window_size": 4,
            "projection_hidden_size": 16,
        },
        projection_dim=12,
    )
    transformers.ClapModel(config).save_pretrained(folder)
    transformers.ClapFeatureExtractor(feature_size=16).save_pretrained(folder)
    _tiny_tokenizer(folder)
    return folder


TINY = {"clap-laion": tiny_clap}


@pytest.fixture(scope="module")
def folders(tmp_path_factory) -> dict[str, Path]:
    """One tiny ``save_pretrained`` folder per backbone."""
    return {name: make(tmp_path_factory.mktemp(name)) for name, make in TINY.items()}


@pytest.fixture(scope="module")
def sets(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("sets")
    tone_set(root / "gen", 4, rate=16000, seconds=1.0, seed=1, noise=0.3)
    tone_set(root / "ref", 4, rate=16000, seconds=1.0, seed=2, noise=0.05)
    return root


def cli(*args: str):
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


# ------------------------------------------------------------------------------------------- CLAP
UNFUSED = {"sampling_rate": 48000, "return_tensors": "pt", "padding": "repeatpad", "truncation": "rand_trunc"}


def test_clap_embedding_equals_the_transformers_model(folders) -> None:
    """Up to 10 s: one chunk, the model's own normalised audio features; longer: the mean of 10 s chunks."""
    model = load("clap-laion", str(folders["clap-laion"]))
    reference = transformers.ClapModel.from_pretrained(folders["clap-laion"]).eval()
    features = transformers.ClapFeatureExtractor.from_pretrained(folders["clap-laion"])
    wav = torch.randn(2, 60000, generator=torch.Generator().manual_seed(0)) * 0.1
    with torch.no_grad():
        ours = model(wav)["embedding"]
        direct = reference.get_audio_features(**features(list(wav.numpy()), **UNFUSED))
        direct = getattr(direct, "pooler_output", direct)  # transformers 5 returns a ModelOutput
    assert ours.shape == (2, 1, 12)
    np.testing.assert_allclose(ours[:, 0].numpy(), torch.nn.functional.normalize(direct, dim=-1).numpy(), atol=1e-5)
    long = torch.randn(1, 480000 + 48000, generator=torch.Generator().manual_seed(1)) * 0.1
    with torch.no_grad():
        ours = model(long)["embedding"][0, 0]
        parts = [long[0, :480000].numpy(), long[0, 480000:].numpy()]
        direct = reference.get_audio_features(**features(parts, **UNFUSED))
        direct = torch.nn.functional.normalize(getattr(direct, "pooler_output", direct), dim=-1)
    np.testing.assert_allclose(ours.numpy(), torch.nn.functional.normalize(direct.mean(0), dim=0).numpy(), atol=1e-5)


def test_clap_text_embeddings(folders) -> None:
    """``embed_text``: one unit-norm row per caption, equal to the model's text features, batch-independent."""
    model = load("clap-laion", str(folders["clap-laion"]))
    captions = ["a dog barks", "rain on a roof", "a car passes by quickly"]
    text = model.embed_text(captions)
    assert text.shape == (3, 12) and text.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(text, axis=1), 1.0, atol=1e-6)
    np.testing.assert_allclose(model.embed_text(captions[1:2])[0], text[1], atol=1e-5)
    tokens = transformers.AutoTokenizer.from_pretrained(folders["clap-laion"])(
        captions, padding=True, return_tensors="pt"
    )
    reference = transformers.ClapModel.from_pretrained(folders["clap-laion"]).eval()
    with torch.no_grad():
        direct = reference.get_text_features(**tokens)
        direct = torch.nn.functional.normalize(getattr(direct, "pooler_output", direct), dim=-1)
    np.testing.assert_allclose(text, direct.numpy(), atol=1e-5)
    assert model.embed_text([]).shape == (0, 12)


# ------------------------------------------------------------------------------ every backbone, end to end
@pytest.mark.parametrize("name", sorted(TINY))
def test_score_fd_and_kad_end_to_end_with_cache_and_stats(name, folders, sets, tmp_path) -> None:
    """``score --backbone NAME --checkpoint NAME=DIR`` runs FD and KAD; a second run is all cache hits;
    a statistics file gives the same FD; the weights digest is in the provenance."""
    opts = ["--backbone", name, "--checkpoint", f"{name}={folders[name]}", "--workers", "0", "--no-progress"]
    first, second, via = tmp_path / "1.json", tmp_path / "2.json", tmp_path / "3.json"
    res = cli("score", str(sets / "gen"), str(sets / "ref"), "--metrics", "fd,kad", "--json", str(first), *opts)
    assert res.exit_code == 0, res.output
    cli("score", str(sets / "gen"), str(sets / "ref"), "--metrics", "fd,kad", "--json", str(second), *opts)
    a, b = json.loads(first.read_text()), json.loads(second.read_text())
    assert np.isfinite(a["metrics"]["fd"]["value"]) and np.isfinite(a["metrics"]["kad"]["value"])
    assert a["cache"]["misses"] == 8 and b["cache"]["hits"] == 8 and b["cache"]["misses"] == 0
    assert a["metrics"]["fd"]["value"] == b["metrics"]["fd"]["value"]
    assert a["backbones"][name]["checkpoint_sha256"] == load(name, str(folders[name])).checkpoint_sha256
    stats = tmp_path / "ref.npz"
    assert cli("stats", str(sets / "ref"), "-o", str(stats), "--metrics", "fd", *opts).exit_code == 0
    res = cli("score", str(sets / "gen"), str(stats), "--metrics", "fd", "--json", str(via), *opts)
    assert res.exit_code == 0, res.output
    assert json.loads(via.read_text())["metrics"]["fd"]["value"] == pytest.approx(a["metrics"]["fd"]["value"], rel=1e-6)


@pytest.mark.parametrize("name", sorted(TINY))
def test_offline_without_weights_names_files_and_source(name, tmp_path, monkeypatch) -> None:
    """No folder given, no hub reachable, nothing cached: one line naming the files and where they come from."""
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(WeightsError) as err:
        load(name)
    message = str(err.value)
    assert "config.json" in message and "https://huggingface.co/" in message and f"--checkpoint {name}=" in message
    assert "\n" not in message


@pytest.mark.parametrize("name", sorted(TINY))
def test_bad_folders_are_one_line_errors(name, folders, tmp_path) -> None:
    """A folder without weights, a missing path, and a config of another class each name the fix."""
    (tmp_path / "empty").mkdir()
    with pytest.raises(WeightsError, match="lacks config.json and model.safetensors"):
        load(name, str(tmp_path / "empty"))
    with pytest.raises(WeightsError, match="does not exist"):
        load(name, str(tmp_path / "nowhere"))
    other = next(n for n in TINY if n != name) if len(TINY) > 1 else None
    if other is not None:
        with pytest.raises(WeightsError, match="checkpoint|layout"):
            load(name, str(folders[other]))


def test_missing_transformers_names_the_extra(folders, monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "transformers", None)
    with pytest.raises(AudiometricError, match=r"pip install 'audiometric\[encoders\]'"):
        load("clap-laion", str(folders["clap-laion"]))


# ----------------------------------------------------------------------------- official configs, no weights
def test_official_clap_config_has_the_layout_our_loader_reads() -> None:
    """laion/clap-htsat-unfused: the towers and projections we call, with 512-d outputs, and its preprocessor."""
    official = OFFICIAL["clap-laion"]
    with torch.device("meta"):
        model = transformers.ClapModel(transformers.ClapConfig(**official["config"]))
    shapes = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    for prefix in ("audio_model.", "audio_projection.", "text_model.", "text_projection."):
        assert any(k.startswith(prefix) for k in shapes), prefix
    assert shapes["audio_projection.linear2.weight"] == (512, 512)
    assert shapes["text_projection.linear2.weight"] == (512, 512)
    assert shapes["text_model.embeddings.word_embeddings.weight"] == (50265, 768)
    assert not model.config.audio_config.enable_fusion
    features = transformers.ClapFeatureExtractor(**official["preprocessor"])
    assert (features.sampling_rate, features.nb_max_samples, features.feature_size) == (48000, 480000, 64)
