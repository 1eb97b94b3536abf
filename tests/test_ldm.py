"""AudioLDM loading, CLAP conditioning and our sampling loop, on tiny random components of the real classes."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest
import torch

pytest.importorskip("diffusers")
pytest.importorskip("transformers")

from audiometric.errors import AudiometricError
from audiometric.ldm import attention, clap
from audiometric.ldm.components import load_components, save_pipeline
from audiometric.ldm.sample import sample
from audiometric.ldm.tiny import write_tiny_clap_audio, write_tiny_pipeline

DURATION = 1.28


@pytest.fixture(scope="module")
def pipe_dir(tmp_path_factory):
    torch.set_num_threads(1)
    return write_tiny_pipeline(tmp_path_factory.mktemp("tiny") / "pipe", seed=0)


@pytest.fixture(scope="module")
def clap_dir(tmp_path_factory):
    return write_tiny_clap_audio(tmp_path_factory.mktemp("clap") / "clap", seed=1)


@pytest.fixture(scope="module")
def components(pipe_dir):
    return load_components(pipe_dir)


def _generate(components, prompts, seeds, steps=3, guidance=2.5):
    cond = clap.text_embeddings(components, prompts)
    return sample(
        components, cond, clap.empty_embedding(components), seeds, steps=steps, guidance=guidance, duration=DURATION
    )


def test_sampling_loop_equals_audioldm_pipeline(components, pipe_dir):
    from diffusers import AudioLDMPipeline

    prompts, seeds = ["a dog barks", "rain on a roof"], [3, 11]
    ours = _generate(components, prompts, seeds, steps=4)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pipe = AudioLDMPipeline.from_pretrained(str(pipe_dir))
    pipe.set_progress_bar_config(disable=True)
    theirs = pipe(
        prompts,
        num_inference_steps=4,
        audio_length_in_s=DURATION,
        guidance_scale=2.5,
        generator=[torch.Generator().manual_seed(s) for s in seeds],
        output_type="np",
    ).audios
    assert ours.shape == theirs.shape == (2, int(DURATION * 16000))
    assert ours.dtype == np.float32
    assert np.abs(ours).max() > 1e-2  # audible, so the comparison below means something
    np.testing.assert_allclose(ours, theirs, atol=1e-5 * np.abs(theirs).max())


def test_same_seed_same_audio_whatever_the_batch(components):
    prompts, seeds = ["a", "bb", "a", "dd"], [5, 6, 7, 8]
    batch = _generate(components, prompts, seeds)
    for i in (1, 3):
        alone = _generate(components, [prompts[i]], [seeds[i]])[0]
        np.testing.assert_allclose(batch[i], alone, atol=1e-5)
    assert np.abs(batch[0] - batch[2]).max() > 1e-3  # same prompt, other seed: other audio


def test_guidance_and_condition_change_the_audio(components):
    base = _generate(components, ["a siren"], [0])
    assert np.abs(base - _generate(components, ["a dog"], [0])).max() > 1e-4
    assert np.abs(base - _generate(components, ["a siren"], [0], guidance=1.0)).max() > 1e-4


def test_text_embeddings_are_unit_projections(components):
    emb = clap.text_embeddings(components, ["one", "two words"])
    assert emb.shape == (2, components.unet.config.projection_class_embeddings_input_dim)
    np.testing.assert_allclose(emb.norm(dim=1).numpy(), 1.0, rtol=1e-6)
    assert clap.empty_embedding(components).shape == (1, emb.shape[1])


def test_audio_embeddings_resample_and_seed_the_crop(clap_dir):
    tower = clap.load_clap_audio(clap_dir)
    rng = np.random.default_rng(0)
    long = rng.standard_normal(int(1.5 * 16000)).astype(np.float32)  # longer than the tower's 0.5 s window
    a = clap.audio_embeddings(tower, [long], 16000, seeds=[0])
    np.testing.assert_allclose(a.norm(dim=1).numpy(), 1.0, rtol=1e-6)
    np.testing.assert_array_equal(a, clap.audio_embeddings(tower, [long], 16000, seeds=[0]))
    assert (a - clap.audio_embeddings(tower, [long], 16000, seeds=[1])).abs().max() > 1e-4
    short = long[:4000]  # at 16 kHz; the same clip given at 48 kHz must embed (almost) the same
    at48 = clap.audio_embeddings(tower, [clap.resample(torch.from_numpy(short)[None], 16000, 48000)[0].numpy()], 48000)
    np.testing.assert_allclose(clap.audio_embeddings(tower, [short], 16000), at48, atol=1e-5)


def test_fusion_tower_is_seeded(tmp_path):
    tower = clap.load_clap_audio(write_tiny_clap_audio(tmp_path / "fused", seed=3, fusion=True))
    assert tower.fusion
    rng = np.random.default_rng(1)
    waves = [rng.standard_normal(24000).astype(np.float32), rng.standard_normal(4000).astype(np.float32)]
    state = np.random.get_state()
    a = clap.audio_embeddings(tower, waves, 16000, seeds=[0, 0])
    assert np.array_equal(np.random.get_state()[1], state[1])  # the caller's numpy RNG is left alone
    np.testing.assert_allclose(a.norm(dim=1).numpy(), 1.0, rtol=1e-6)
    np.testing.assert_array_equal(a, clap.audio_embeddings(tower, waves, 16000, seeds=[0, 0]))
    b = clap.audio_embeddings(tower, waves, 16000, seeds=[5, 0])
    assert (a[0] - b[0]).abs().max() > 1e-4  # the long clip's random chunks follow its seed


def test_text_tower_agreement_detects_a_foreign_clap(components, clap_dir, tmp_path):
    foreign = clap.load_clap_audio(clap_dir)
    prompts = ["a dog barks", "rain", "an engine idling"]
    assert clap.text_tower_agreement(components, foreign, prompts) < 0.9
    same_dir = write_tiny_clap_audio(tmp_path / "same", seed=1, pipeline=components.source)
    same = clap.load_clap_audio(same_dir)
    assert clap.text_tower_agreement(components, same, prompts) > 0.999


def test_original_attention_changes_heads_not_weights(pipe_dir, components):
    assert not components.attention_layout()["matches_original"]
    original = load_components(pipe_dir, original_attention=True)
    assert original.attention_layout()["matches_original"]
    assert original.attention_layout()["heads"] == attention.original_heads(components.unet.config)[1:]
    for (name, a), (_, b) in zip(components.unet.state_dict().items(), original.unet.state_dict().items()):
        assert torch.equal(a, b), name
    assert np.abs(_generate(components, ["x"], [0]) - _generate(original, ["x"], [0])).max() > 1e-6


def test_save_pipeline_round_trip(components, tmp_path):
    folder = save_pipeline(components, tmp_path / "copy")
    index = json.loads((folder / "model_index.json").read_text())
    assert index["_class_name"] == "AudioLDMPipeline" and index["unet"] == ["diffusers", "UNet2DConditionModel"]
    again = load_components(folder)
    np.testing.assert_array_equal(_generate(components, ["x"], [1]), _generate(again, ["x"], [1]))
    assert again.digest and again.digest != ""


def test_folder_lacking_a_component_names_it(pipe_dir, tmp_path):
    import shutil

    broken = tmp_path / "broken"
    shutil.copytree(pipe_dir, broken)
    shutil.rmtree(broken / "vocoder")
    with pytest.raises(AudiometricError, match="lacks its vocoder component"):
        load_components(broken)


def test_offline_hub_id_says_where_it_looked(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hub"))
    import huggingface_hub.constants as constants

    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "hub"))
    with pytest.raises(AudiometricError) as err:
        load_components("cvssp/audioldm-s-full-v2")
    message = str(err.value)
    assert "cvssp/audioldm-s-full-v2" in message and str(tmp_path / "hub") in message and "--model" in message
    assert "\n" not in message


def test_audio_conditioning_needs_an_audio_tower(pipe_dir):
    with pytest.raises(AudiometricError, match="without a CLAP audio tower"):
        clap.load_clap_audio(pipe_dir / "text_encoder")


def test_bf16_precision_runs_and_stays_close(pipe_dir, components):
    half = load_components(pipe_dir, dtype=torch.bfloat16)
    assert half.unet.dtype == half.vocoder.dtype == torch.bfloat16
    low, full = _generate(half, ["a bell"], [2]), _generate(components, ["a bell"], [2])
    assert low.dtype == np.float32 and np.isfinite(low).all()
    assert np.corrcoef(low[0], full[0])[0, 1] > 0.9  # same audio to bf16 rounding, not another sample


def test_audio_tower_alone_embeds_as_the_full_clap(clap_dir, tmp_path):
    from transformers import ClapAudioModelWithProjection, ClapModel

    full = ClapModel.from_pretrained(str(clap_dir))
    alone = ClapAudioModelWithProjection(full.config.audio_config)
    alone.load_state_dict(full.state_dict(), strict=False)
    alone.save_pretrained(str(tmp_path / "audio_only"))
    (tmp_path / "audio_only" / "preprocessor_config.json").write_bytes(
        (clap_dir / "preprocessor_config.json").read_bytes()
    )
    tower = clap.load_clap_audio(tmp_path / "audio_only")
    assert tower.tokenizer is None
    wave = [np.random.default_rng(2).standard_normal(12000).astype(np.float32)]
    np.testing.assert_allclose(
        clap.audio_embeddings(tower, wave, 16000),
        clap.audio_embeddings(clap.load_clap_audio(clap_dir), wave, 16000),
        atol=1e-6,
    )
