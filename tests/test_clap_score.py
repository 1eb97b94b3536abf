"""CLAP score and CLAP pair with a tiny random ClapModel: values equal a direct transformers computation,
captions come from a CSV or generate's manifest, and a clip without a caption is a one-line error."""

from __future__ import annotations

import json

import numpy as np
import pytest
import soundfile as sf
import torch
from click.testing import CliRunner
from conftest import tone_set

import audiometric
from audiometric.cli import main
from audiometric.errors import AudiometricError
from audiometric.metrics import METRICS

transformers = pytest.importorskip("transformers")
from test_encoders import tiny_clap  # noqa: E402  (needs transformers)

pytestmark = pytest.mark.usefixtures("one_torch_thread")

UNFUSED = {"sampling_rate": 48000, "return_tensors": "pt", "padding": "repeatpad", "truncation": "rand_trunc"}
CAPTIONS = ["a dog barks", "rain on a roof", "a car passes by", "birds sing"]


@pytest.fixture(scope="module")
def clap(tmp_path_factory):
    return tiny_clap(tmp_path_factory.mktemp("clap"))


@pytest.fixture(scope="module")
def sets(tmp_path_factory):
    """48 kHz clips (CLAP's rate: no resampling), generated and reference of the same names, and captions."""
    root = tmp_path_factory.mktemp("sets")
    gen = tone_set(root / "gen", 4, rate=48000, seconds=0.5, seed=1, noise=0.3)
    tone_set(root / "ref", 4, rate=48000, seconds=0.5, seed=2, noise=0.05)
    rows = "".join(f"{p.name},{text}\n" for p, text in zip(gen, CAPTIONS))
    (root / "captions.csv").write_text("file,caption\n" + rows)
    return root


def _direct(clap, folder, captions=None, other=None):
    """Mean cosine computed with transformers alone: audio features of each clip (mean removed, as the
    pipeline does) against its caption's text features or the same-name clip of ``other``."""
    model = transformers.ClapModel.from_pretrained(clap).eval()
    features = transformers.ClapFeatureExtractor.from_pretrained(clap)

    def audio(path):
        wave = sf.read(path, dtype="float32")[0]
        out = model.get_audio_features(**features([wave - wave.mean()], **UNFUSED))
        return getattr(out, "pooler_output", out)[0]

    with torch.no_grad():
        files = sorted(folder.glob("*.wav"))
        a = torch.stack([audio(p) for p in files])
        if captions is not None:
            tokens = transformers.AutoTokenizer.from_pretrained(clap)(captions, padding=True, return_tensors="pt")
            b = model.get_text_features(**tokens)
            b = getattr(b, "pooler_output", b)
        else:
            b = torch.stack([audio(other / p.name) for p in files])
    return torch.nn.functional.cosine_similarity(a, b, dim=-1).mean().item()


def _score(sets, clap, metrics, **kw):
    return audiometric.score(
        sets / "gen", sets / "ref", metrics, "aisfx", checkpoints={"clap-laion": clap}, cache=False, workers=0,
        progress=False, **kw,
    )  # fmt: skip


def test_registry_states_direction_backbone_and_pairing():
    for name in ("clap_score", "clap_pair"):
        info = METRICS[name]
        assert not info.lower_is_better and info.paired and info.backbone == "clap-laion"
    assert METRICS["clap_score"].reference == "captions" and METRICS["clap_pair"].reference == "clips"


def test_values_equal_a_direct_transformers_computation(sets, clap):
    result = _score(sets, clap, "clap_score,clap_pair", prompts=sets / "captions.csv", bootstrap=50)
    assert result["clap_score"].value == pytest.approx(_direct(clap, sets / "gen", CAPTIONS), abs=1e-5)
    assert result["clap_pair"].value == pytest.approx(_direct(clap, sets / "gen", other=sets / "ref"), abs=1e-5)
    for key in ("clap_score", "clap_pair"):
        entry = result[key]
        assert entry.backbone == "clap-laion" and entry.better == "higher" and entry["n_pairs"] == 4
        assert entry.ci[0] <= entry.value <= entry.ci[1]
    data = result.as_dict()
    assert data["captions"]["captions"] == 4 and len(data["captions"]["sha256"]) == 64
    assert data["backbones"]["clap-laion"]["checkpoint_sha256"]  # the checkpoint decides the number


def test_generate_manifest_gives_the_same_captions(sets, clap, tmp_path):
    clips = {f"clip{i:03d}": {"prompt": text, "seeds": [i]} for i, text in enumerate(CAPTIONS)}
    manifest = tmp_path / "manifest.json"
    manifest.write_text(json.dumps({"written_by": "audiometric generate", "clips": clips}))
    from_manifest = _score(sets, clap, "clap_score", prompts=manifest)
    from_csv = _score(sets, clap, "clap_score", prompts=sets / "captions.csv")
    assert from_manifest["clap_score"].value == pytest.approx(from_csv["clap_score"].value, abs=1e-7)


def test_missing_caption_is_one_line_naming_the_clip(sets, clap, tmp_path):
    lines = (sets / "captions.csv").read_text().splitlines()
    short = tmp_path / "short.csv"
    short.write_text("\n".join(lines[:-1]) + "\n")  # clip003.wav has no row
    with pytest.raises(AudiometricError, match=r"no caption for generated clip 'clip003.wav'") as err:
        _score(sets, clap, "clap_score", prompts=short)
    assert "\n" not in str(err.value) and str(short) in str(err.value)
    run = CliRunner().invoke(
        main,
        ["score", str(sets / "gen"), str(sets / "ref"), "--metrics", "clap_score", "--prompts", str(short),
         "--checkpoint", f"clap-laion={clap}", "--no-cache", "--no-progress"],
    )  # fmt: skip
    assert run.exit_code != 0 and "clip003.wav" in run.output and "Traceback" not in run.output
    assert len(run.output.strip().splitlines()) == 1
    with pytest.raises(AudiometricError, match="needs each generated clip's caption"):
        _score(sets, clap, "clap_score")
    with pytest.raises(AudiometricError, match="only clap_score reads captions"):
        _score(sets, clap, "clap_pair", prompts=sets / "captions.csv")


def test_clap_pair_on_another_backbone_and_text_tower_check(sets, clap):
    result = _score(sets, clap, "clap_pair@aisfx")
    assert result["clap_pair@aisfx"].backbone == "aisfx" and np.isfinite(result["clap_pair@aisfx"].value)
    assert "not comparable" in result["clap_pair@aisfx"]["note"]  # defined on clap-laion
    with pytest.raises(AudiometricError, match="backbone 'aisfx' has no text tower"):
        _score(sets, clap, "clap_score@aisfx", prompts=sets / "captions.csv")
