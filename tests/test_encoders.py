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

pytestmark = pytest.mark.usefixtures("one_torch_thread")

transformers = pytest.importorskip("transformers")

OFFICIAL = json.loads((Path(__file__).parent / "data" / "encoder_configs.json").read_text())


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


def tiny_ast(folder: Path) -> Path:
    """A random ASTForAudioClassification over 16 mel bands x 32 frames (0.32 s windows), 527 labels."""
    torch.manual_seed(0)
    config = transformers.ASTConfig(
        hidden_size=16,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=32,
        num_mel_bins=16,
        max_length=32,
        num_labels=527,
    )
    transformers.ASTForAudioClassification(config).save_pretrained(folder)
    transformers.ASTFeatureExtractor(num_mel_bins=16, max_length=32).save_pretrained(folder)
    return folder


def tiny_encodec(folder: Path) -> Path:
    """A random 24 kHz EncodecModel with an 8-d latent every 320 samples (the official hop)."""
    torch.manual_seed(0)
    config = transformers.EncodecConfig(
        hidden_size=8,
        num_filters=2,
        num_residual_layers=1,
        upsampling_ratios=[8, 5, 4, 2],
        codebook_size=16,
        codebook_dim=8,
        target_bandwidths=[1.5],
        num_lstm_layers=1,
    )
    transformers.EncodecModel(config).save_pretrained(folder)
    transformers.EncodecFeatureExtractor().save_pretrained(folder)
    return folder


def tiny_dac(folder: Path) -> Path:
    """A random 44.1 kHz DacModel with a 16-d latent every 512 samples (the official hop)."""
    torch.manual_seed(0)
    config = transformers.DacConfig(
        encoder_hidden_size=1,
        downsampling_ratios=[2, 4, 8, 8],
        decoder_hidden_size=8,
        upsampling_ratios=[8, 8, 4, 2],
        n_codebooks=2,
        codebook_size=16,
        codebook_dim=4,
        hidden_size=16,
        hop_length=512,
        sampling_rate=44100,
    )
    transformers.DacModel(config).save_pretrained(folder)
    transformers.DacFeatureExtractor(hop_length=512, sampling_rate=44100).save_pretrained(folder)
    return folder


def tiny_wavlm(folder: Path) -> Path:
    """A random 2-block WavLMModel with the official 320-sample frame hop (strides 5, 4, 4, 4)."""
    torch.manual_seed(0)
    config = transformers.WavLMConfig(
        hidden_size=16,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=32,
        conv_dim=(8, 8, 8, 8),
        conv_stride=(5, 4, 4, 4),
        conv_kernel=(10, 4, 4, 4),
        num_conv_pos_embeddings=8,
        num_conv_pos_embedding_groups=2,
        num_buckets=8,
        max_bucket_distance=20,
    )
    transformers.WavLMModel(config).save_pretrained(folder)
    transformers.Wav2Vec2FeatureExtractor(do_normalize=True).save_pretrained(folder)
    return folder


TINY = {
    "clap-laion": tiny_clap,
    "ast-audioset": tiny_ast,
    "encodec-24k": tiny_encodec,
    "dac-44k": tiny_dac,
    "wavlm-base-plus": tiny_wavlm,
}


@pytest.fixture(scope="module")
def folders(tmp_path_factory) -> dict[str, Path]:
    """One tiny ``save_pretrained`` folder per backbone."""
    return {name: make(tmp_path_factory.mktemp(name)) for name, make in TINY.items()}


@pytest.fixture(scope="module")
def sets(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("sets")
    tone_set(root / "gen", 10, rate=16000, seconds=1.0, seed=1, noise=0.3)  # 10: IS's default splits
    tone_set(root / "ref", 10, rate=16000, seconds=1.0, seed=2, noise=0.05)
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


# -------------------------------------------------------------------------------------------- AST
def test_ast_equals_the_transformers_model_and_averages_chunks(folders) -> None:
    """Within one window: the classifier's pooled output and logits; longer: the means over 0.32 s windows."""
    model = load("ast-audioset", str(folders["ast-audioset"]))
    reference = transformers.ASTForAudioClassification.from_pretrained(folders["ast-audioset"]).eval()
    features = transformers.ASTFeatureExtractor.from_pretrained(folders["ast-audioset"])
    wav = torch.randn(2, 12000, generator=torch.Generator().manual_seed(0)) * 0.1  # 2.3 windows of 5120
    with torch.no_grad():
        ours = model(wav)
        parts = [row[i * 5120 : (i + 1) * 5120] for row in wav.numpy() for i in range(3)]
        inputs = features(parts, sampling_rate=16000, return_tensors="pt")
        pooled = reference.audio_spectrogram_transformer(**inputs).pooler_output.reshape(2, 3, -1)
        logits = reference(**inputs).logits.reshape(2, 3, -1)
    assert ours["embedding"].shape == (2, 1, 16) and ours["logits"].shape == (2, 1, 527)
    np.testing.assert_allclose(ours["embedding"][:, 0].numpy(), pooled.mean(1).numpy(), atol=1e-5)
    np.testing.assert_allclose(ours["logits"][:, 0].numpy(), logits.mean(1).numpy(), atol=1e-5)


def test_ast_runs_is_and_kl(folders, sets, tmp_path) -> None:
    """IS and KL read the 527 logits; KL pairs clips by name."""
    out = tmp_path / "r.json"
    res = cli(
        "score", str(sets / "gen"), str(sets / "ref"), "--metrics", "is,kl", "--backbone", "ast-audioset",
        "--checkpoint", f"ast-audioset={folders['ast-audioset']}", "--workers", "0", "--no-progress",
        "--json", str(out),
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    metrics = json.loads(out.read_text())["metrics"]
    assert metrics["is"]["value"] >= 1.0 and np.isfinite(metrics["kl_softmax"]["value"])
    assert metrics["kl_sigmoid"]["value"] >= 0.0


# ------------------------------------------------------------------------------------------ codecs
@pytest.mark.parametrize(("name", "model_class", "features_class", "rate", "hop"), [
    ("encodec-24k", "EncodecModel", "EncodecFeatureExtractor", 24000, 320),
    ("dac-44k", "DacModel", "DacFeatureExtractor", 44100, 512),
])  # fmt: skip
def test_codec_frames_equal_the_transformers_encoder(folders, name, model_class, features_class, rate, hop) -> None:
    """One row per hop: the encoder's latents of the feature extractor's input, transposed to frames x dim."""
    model = load(name, str(folders[name]))
    reference = getattr(transformers, model_class).from_pretrained(folders[name]).eval()
    features = getattr(transformers, features_class).from_pretrained(folders[name])
    wav = torch.randn(2, rate // 4 + 3, generator=torch.Generator().manual_seed(0)) * 0.1
    with torch.no_grad():
        ours = model(wav)["embedding"]
        inputs = features(list(wav.numpy()), sampling_rate=rate, return_tensors="pt")
        direct = reference.encoder(inputs["input_values"]).transpose(1, 2)
    assert ours.shape == (2, -(-wav.shape[1] // hop), direct.shape[-1])
    np.testing.assert_allclose(ours.numpy(), direct.numpy(), atol=1e-5)


# ------------------------------------------------------------------------------------------ WavLM
def test_wavlm_layers_equal_the_transformers_hidden_states(folders) -> None:
    """Default: the last block's hidden states (fadtk's choice); ``layer=N``: hidden_states[N]; bad N: one line."""
    from audiometric.backbones import loader

    folder = str(folders["wavlm-base-plus"])
    reference = transformers.WavLMModel.from_pretrained(folder).eval()
    features = transformers.Wav2Vec2FeatureExtractor.from_pretrained(folder)
    wav = torch.randn(2, 16000, generator=torch.Generator().manual_seed(0)) * 0.1
    with torch.no_grad():
        hidden = reference(features(list(wav.numpy()), sampling_rate=16000, return_tensors="pt")["input_values"],
                           output_hidden_states=True).hidden_states  # fmt: skip
        default = load("wavlm-base-plus", folder)(wav)["embedding"]
        first = loader("wavlm-base-plus")(folder, "cpu", layer=1)(wav)["embedding"]
    assert default.shape == (2, 49, 16)
    np.testing.assert_allclose(default.numpy(), hidden[2].numpy(), atol=1e-5)
    np.testing.assert_allclose(first.numpy(), hidden[1].numpy(), atol=1e-5)
    with pytest.raises(AudiometricError, match="out of range.*0..2"):
        loader("wavlm-base-plus")(folder, "cpu", layer=3)


def test_param_layer_reaches_wavlm_and_keys_the_cache(folders, sets, tmp_path) -> None:
    """``--param layer=1`` changes the embedding and gets its own cache entries; an unknown key is one line."""
    opts = ["--backbone", "wavlm-base-plus", "--checkpoint", f"wavlm-base-plus={folders['wavlm-base-plus']}",
            "--workers", "0", "--no-progress", "--metrics", "fd"]  # fmt: skip
    runs = {}
    for label, extra in (("last", []), ("first", ["--param", "layer=1"]), ("again", ["--param", "layer=1"])):
        out = tmp_path / f"{label}.json"
        res = cli("score", str(sets / "gen"), str(sets / "ref"), *opts, *extra, "--json", str(out))
        assert res.exit_code == 0, res.output
        runs[label] = json.loads(out.read_text())
    assert runs["first"]["cache"]["misses"] == 20 and runs["again"]["cache"]["hits"] == 20
    assert runs["first"]["metrics"]["fd"]["value"] != runs["last"]["metrics"]["fd"]["value"]
    assert runs["first"]["backbones"]["wavlm-base-plus"]["params"] == {"layer": "1"}
    res = cli("score", str(sets / "gen"), str(sets / "ref"), *opts, "--param", "depth=3")
    assert res.exit_code == 2 and "--param depth" in res.output and "wavlm-base-plus: layer" in res.output
    assert res.output.count("\n") == 1


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
    assert a["cache"]["misses"] == 20 and b["cache"]["hits"] == 20 and b["cache"]["misses"] == 0
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
    assert "hub cannot be reached" in message and "\n" not in message


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


def test_official_ast_config_gives_768_d_and_527_logits_on_10_24_s() -> None:
    """MIT/ast-finetuned-audioset-10-10-0.4593: 1212 patches + 2 tokens; our chunk is its 1024-frame window."""
    from audiometric.backbones.ast import HOP

    official = OFFICIAL["ast-audioset"]
    with torch.device("meta"):
        model = transformers.ASTForAudioClassification(transformers.ASTConfig(**official["config"]))
        pooled = model.audio_spectrogram_transformer(torch.zeros(1, 1024, 128)).pooler_output
        logits = model.classifier(pooled)
    assert tuple(model.state_dict()["audio_spectrogram_transformer.embeddings.position_embeddings"].shape) == (
        1,
        1214,
        768,
    )
    assert pooled.shape == (1, 768) and logits.shape == (1, 527)
    features = transformers.ASTFeatureExtractor(**official["preprocessor"])
    assert features.max_length * HOP == 163840 and features.sampling_rate == 16000


@pytest.mark.parametrize(("name", "model_class", "samples", "shape", "device"), [
    ("encodec-24k", "EncodecModel", 24000, (1, 128, 75), "cpu"),  # its padding reads a value: 15 M parameters on CPU
    ("dac-44k", "DacModel", 44544, (1, 1024, 87), "meta"),
])  # fmt: skip
def test_official_codec_configs_give_the_frames_we_document(name, model_class, samples, shape, device) -> None:
    """facebook/encodec_24khz: 128-d every 320 samples; descript/dac_44khz: 1024-d every 512 samples."""
    import importlib

    official = OFFICIAL[name]
    config = getattr(transformers, model_class.replace("Model", "Config"))(**official["config"])
    with torch.device(device), torch.no_grad():
        model = getattr(transformers, model_class)(config)
        latents = model.encoder(torch.zeros(1, 1, samples))
    assert tuple(latents.shape) == shape
    module = importlib.import_module(f"audiometric.backbones.{name.split('-')[0]}")
    assert samples // shape[-1] == module.HOP and official["config"]["sampling_rate"] == module.SAMPLE_RATE


def test_official_wavlm_config_has_13_hidden_states_of_768_every_320_samples() -> None:
    """microsoft/wavlm-base-plus: 12 blocks (+ the CNN projection = 13 hidden states), 768-d, 20 ms frames."""
    official = OFFICIAL["wavlm-base-plus"]
    with torch.device("meta"):
        model = transformers.WavLMModel(transformers.WavLMConfig(**official["config"]))
    shapes = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    assert shapes["feature_projection.projection.weight"] == (768, 512)
    assert shapes["encoder.layers.0.attention.rel_attn_embed.weight"] == (320, 12)
    assert sum(k.endswith("final_layer_norm.weight") for k in shapes) == 12
    lengths = model._get_feat_extract_output_lengths(torch.tensor([400, 16000]))
    assert lengths.tolist() == [1, 49]  # min_samples gives one frame; 1 s gives 49


# ------------------------------------------------------------------------------------ audiometric backbones
def test_backbones_command_lists_every_backbone_without_torch() -> None:
    """Rate, outputs with widths, checkpoint files, source and licence for each; listing imports no torch."""
    import subprocess

    from audiometric import backbones

    res = cli("backbones", "--json")
    assert res.exit_code == 0, res.output
    records = {r["name"]: r for r in json.loads(res.output)}
    assert set(records) == set(backbones.available())
    clap = records["clap-laion"]
    assert clap["sample_rate"] == 48000 and clap["outputs"] == {"embedding": 512} and clap["rows"] == "per clip"
    assert "config.json" in clap["checkpoint"] and clap["source"] == "https://huggingface.co/laion/clap-htsat-unfused"
    assert records["ast-audioset"]["outputs"] == {"embedding": 768, "logits": 527}
    assert records["encodec-24k"]["rows"] == "per frame" and records["vggish"]["licence"] == "Apache-2.0"
    for name, record in records.items():
        assert len(record["outputs"]) == len(backbones.spec(name).outputs) and record["checkpoint"]
    table = cli("backbones").output
    assert all(name in table for name in records) and "licence:" in table
    code = "import sys; from audiometric.cli.backbones import describe; describe(); print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_dac_preprocessor_rate_of_old_hub_copies_and_other_rates(folders, tmp_path) -> None:
    """descript/dac_44khz copies fetched before 2024-10-11 say 16000 Hz in preprocessor_config.json: a warning,
    then the model's 44100 Hz (same embeddings); a DAC whose model is not 44.1 kHz is refused in one line."""
    import shutil

    old = shutil.copytree(folders["dac-44k"], tmp_path / "old")
    prep = json.loads((old / "preprocessor_config.json").read_text())
    (old / "preprocessor_config.json").write_text(json.dumps({**prep, "sampling_rate": 16000}))
    wav = torch.randn(1, 44100) * 0.1
    with pytest.warns(UserWarning, match="sampling_rate 16000"):
        fixed = load("dac-44k", str(old))
    current = load("dac-44k", str(folders["dac-44k"]))
    assert torch.equal(fixed(wav)["embedding"], current(wav)["embedding"])
    assert fixed.checkpoint_sha256 != current.checkpoint_sha256  # the preprocessor is part of the digest
    other = shutil.copytree(folders["dac-44k"], tmp_path / "other")
    config = json.loads((other / "config.json").read_text())
    (other / "config.json").write_text(json.dumps({**config, "sampling_rate": 16000}))
    with pytest.raises(WeightsError, match="16000 Hz DAC"):
        load("dac-44k", str(other))
