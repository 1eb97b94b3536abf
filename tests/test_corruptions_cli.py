"""`audiometric corrupt` and audiometric.corrupt.folder: byte-identical reruns, resume, manifests, set
modes, composition + permutation, and one-line errors."""

from __future__ import annotations

import dataclasses
import json

import click
import numpy as np
import pytest
import soundfile as sf
from click.testing import CliRunner

import corruptions
from audiometric import __version__
from audiometric.cli.corrupt import corrupt
from audiometric.corrupt.clip import write_wav
from audiometric.corrupt.folder import corrupt_set, sha256_file
from audiometric.corrupt.setrun import RECORDS_DIR
from audiometric.errors import USER_ERRORS, AudiometricError
from audiometric.runtime.outputs import STAMP
from corruptions.registry import REGISTRY

SR = 16000


def _write(path, seed, samples=SR, channels=None, rate=SR):
    path.parent.mkdir(parents=True, exist_ok=True)
    shape = (samples,) if channels is None else (samples, channels)
    sf.write(path, (0.1 * np.random.default_rng(seed).standard_normal(shape)).astype(np.float32), rate)


@pytest.fixture()
def in_dir(tmp_path):
    root = tmp_path / "in"
    for i in range(4):
        _write(root / f"clip{i}.wav", i)
    _write(root / "stereo.wav", 9, channels=2)
    return root


@pytest.fixture(scope="module")
def pool_dir(tmp_path_factory):
    root = tmp_path_factory.mktemp("pool")
    for i, label in enumerate(("bell", "car", "cat", "dog", "rain")):
        _write(root / label / "x.wav", 100 + i, samples=12000, rate=22050 if i % 2 else SR)
    return root


def _run(*args):
    return CliRunner().invoke(corrupt, [str(a) for a in args] + ["--no-progress"])


def _files(folder):
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_list_shows_every_corruption_and_parameter():
    result = CliRunner().invoke(corrupt, ["--list"])
    assert result.exit_code == 0
    for name in corruptions.names():
        assert name in result.output
        assert all(p.name in result.output for p in corruptions.get(name).params)
    assert "--compose" in result.output and "n_events" in result.output


@pytest.mark.parametrize(
    "name,severity,params", [("gaussian_noise", "0.1", []), ("mel_mask", "0.25", ["-p", "mode=time"])]
)
def test_same_seed_byte_identical_and_different_seed_differs(in_dir, tmp_path, name, severity, params):
    for out, seed in (("a", 0), ("b", 0), ("c", 1)):
        result = _run(in_dir, tmp_path / out, "-c", name, "-s", severity, "--seed", seed, *params)
        assert result.exit_code == 0, result.output
    a, b, c = (_files(tmp_path / x) for x in "abc")
    assert a == b and set(a) == {f"clip{i}.wav" for i in range(4)} | {"stereo.wav", "manifest.json", STAMP}
    assert all(a[n] != c[n] for n in a)


def test_manifest_describes_run_and_files(in_dir, tmp_path):
    manifest = corrupt_set(in_dir, tmp_path / "out", "gaussian_noise", 0.01, seed=3)
    assert json.loads((tmp_path / "out" / "manifest.json").read_text()) == manifest
    run = manifest["run"]
    assert run["corruption"] == "gaussian_noise" and run["seed"] == 3 and run["audiometric_version"] == __version__
    assert [f["name"] for f in manifest["files"]] == sorted(p.name for p in in_dir.iterdir())
    for item in manifest["files"]:
        assert item["input_sha256"] == sha256_file(in_dir / item["name"])
        assert item["output_sha256"] == sha256_file(tmp_path / "out" / item["output"])
        clean, _ = sf.read(in_dir / item["name"], dtype="float32")
        noisy, rate = sf.read(tmp_path / "out" / item["output"], dtype="float32")
        assert rate == SR and noisy.shape == clean.shape
        measured = 10 * np.log10(np.sum(clean.astype(float) ** 2) / np.sum((noisy.astype(float) - clean) ** 2))
        assert abs(measured - 20.0) < 0.1 and abs(item["record"]["realised_snr_db"] - measured) < 1e-6
    assert not (tmp_path / "out" / RECORDS_DIR).exists()


@pytest.mark.parametrize("shape", [(7,), (3, 5)])
def test_float_wav_writer_reads_back_exactly(tmp_path, shape):
    from scipy.io import wavfile

    audio = np.random.default_rng(0).standard_normal(shape).astype(np.float32)
    write_wav(tmp_path / "x.wav", audio, 22050)
    for data, rate in (sf.read(tmp_path / "x.wav", dtype="float32"), wavfile.read(tmp_path / "x.wav")[::-1]):
        assert rate == 22050 and data.dtype == np.float32
        np.testing.assert_array_equal(data, audio.T)


def test_severity_zero_copies_samples_and_converts_to_wav(tmp_path):
    _write(tmp_path / "in" / "a.flac", 1)
    corrupt_set(tmp_path / "in", tmp_path / "out", "mel_noise", 0)
    before, _ = sf.read(tmp_path / "in" / "a.flac", dtype="float32")
    after, _ = sf.read(tmp_path / "out" / "a.wav", dtype="float32")
    np.testing.assert_array_equal(before, after)
    assert sf.info(tmp_path / "out" / "a.wav").subtype == "FLOAT"


def test_interrupted_run_resumes_without_rewriting(in_dir, tmp_path, monkeypatch):
    corrupt_set(in_dir, tmp_path / "fresh", "mel_noise", 2.0, seed=5)
    original = REGISTRY["mel_noise"]
    calls = []
    crash = [True]

    class Crash(Exception):
        """Stands in for a kill or Ctrl-C in the middle of a run."""

    def flaky(audio, *args, **kwargs):
        calls.append(1)
        if len(calls) == 3 and crash[0]:
            raise Crash
        return original.apply(audio, *args, **kwargs)

    monkeypatch.setitem(REGISTRY, "mel_noise", dataclasses.replace(original, apply=flaky))
    with pytest.raises(Crash):
        corrupt_set(in_dir, tmp_path / "out", "mel_noise", 2.0, seed=5)
    out = tmp_path / "out"
    done = {p.name: p.stat().st_mtime_ns for p in out.glob("*.wav")}
    assert len(done) == 2 and not (out / "manifest.json").exists()
    calls.clear()
    crash[0] = False
    corrupt_set(in_dir, out, "mel_noise", 2.0, seed=5)
    assert len(calls) == 3
    assert all((out / n).stat().st_mtime_ns == t for n, t in done.items())
    assert _files(out) == _files(tmp_path / "fresh")
    with pytest.raises(AudiometricError, match="other settings"):
        corrupt_set(in_dir, out, "mel_noise", 2.0, seed=6)


def test_interference_run_uses_folder_labels_and_resamples(pool_dir, tmp_path):
    _write(tmp_path / "in" / "dog" / "a.wav", 1)
    _write(tmp_path / "in" / "cat" / "b.wav", 2, channels=2)
    result = _run(
        tmp_path / "in", tmp_path / "out", "-c", "interference", "-s", 3, "--pool", pool_dir, "-p", "snr_db=5"
    )
    assert result.exit_code == 0, result.output
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text())
    for item in manifest["files"]:
        own = item["name"].split("/")[0]
        classes = [i["class"] for i in item["record"]["interferers"]]
        assert own not in classes and len(set(classes)) == 3
        assert all(("resampled_to" in i) == (i["sample_rate"] != SR) for i in item["record"]["interferers"])
    assert (tmp_path / "out" / "cat" / "b.wav").is_file()


def test_interference_labels_csv_and_errors(pool_dir, in_dir, tmp_path):
    labels = tmp_path / "labels.csv"
    labels.write_text("path,label\n" + "".join(f"{p.name},dog\n" for p in in_dir.iterdir()))
    manifest = corrupt_set(in_dir, tmp_path / "o1", "interference", 2, pool=pool_dir, labels=labels)
    assert all("dog" not in [i["class"] for i in f["record"]["interferers"]] for f in manifest["files"])
    with pytest.raises(AudiometricError, match="target class unknown"):
        corrupt_set(in_dir, tmp_path / "o2", "interference", 2, pool=pool_dir)
    with pytest.raises(AudiometricError, match="needs --pool"):
        corrupt_set(in_dir, tmp_path / "o3", "interference", 2, target_label="dog")
    with pytest.raises(AudiometricError, match="4 classes other than 'dog', need 5"):
        corrupt_set(in_dir, tmp_path / "o4", "interference", 5, pool=pool_dir, target_label="dog")


def test_set_level_fraction_corrupts_exactly_that_many(pool_dir, tmp_path):
    for i in range(10):
        _write(tmp_path / "in" / f"c{i}.wav", i)
    manifest = corrupt_set(
        tmp_path / "in",
        tmp_path / "out",
        "interference_fraction",
        0.3,
        seed=2,
        params={"k": "2"},
        pool=pool_dir,
        target_label="dog",
    )
    changed = {
        n
        for n in (p.name for p in (tmp_path / "in").iterdir())
        if not np.array_equal(sf.read(tmp_path / "in" / n)[0], sf.read(tmp_path / "out" / n)[0])
    }
    assert len(changed) == 3 and set(manifest["run"]["selected"]) == changed
    assert all(f["record"]["selected"] == (f["name"] in changed) for f in manifest["files"])
    assert all(len(f["record"]["interferers"]) == 2 for f in manifest["files"] if f["name"] in changed)


def test_compose_then_permute(pool_dir, tmp_path):
    ref, out = tmp_path / "ref", tmp_path / "perm"
    result = _run(
        pool_dir, ref, "--compose", "-p", "n_clips=3", "-p", "n_events=4", "-p", "event_max_s=0.25", "-p", "gap_s=0.01"
    )
    assert result.exit_code == 0, result.output
    assert _run(ref, out, "-c", "event_permutation", "-s", 3).exit_code == 0
    manifest = json.loads((out / "manifest.json").read_text())
    for item in manifest["files"]:
        a, _ = sf.read(ref / item["name"], dtype="float32")
        b, _ = sf.read(out / item["output"], dtype="float32")
        assert a.shape == b.shape and not np.array_equal(a, b)
        np.testing.assert_array_equal(np.sort(a), np.sort(b))
        order = item["record"]["order"]
        assert sum(i != j for i, j in enumerate(order)) == 3
    result = _run(ref, tmp_path / "bad", "-c", "event_permutation", "-s", 2, "-p", "gap_s=0.5")
    assert isinstance(result.exception, AudiometricError) and "differs from the reference" in str(result.exception)


def test_user_errors_are_one_line(in_dir, tmp_path):
    _write(tmp_path / "silent" / "z.wav", 0)
    sf.write(tmp_path / "silent" / "z.wav", np.zeros(SR, np.float32), SR)
    cases = [
        (
            (tmp_path / "silent", tmp_path / "o", "-c", "gaussian_noise", "-s", 0.1),
            "z.wav: gaussian_noise: the target is silent",
        ),
        ((in_dir, tmp_path / "o", "-c", "mel_noise", "-s", 1, "-p", "bogus=1"), "unknown parameter 'bogus'"),
        (
            (in_dir, tmp_path / "o", "-c", "mel_mask", "-s", 0.1, "-p", "mode=diagonal"),
            "choose one of time, freq, patch",
        ),
        ((in_dir, tmp_path / "o", "-c", "nope", "-s", 1), "unknown corruption 'nope'"),
        ((tmp_path / "missing", tmp_path / "o", "-c", "mel_noise", "-s", 1), "is not a folder"),
        ((in_dir, in_dir, "-c", "mel_noise", "-s", 1), "inside the input"),
        ((in_dir, in_dir / "noisy", "-c", "mel_noise", "-s", 1), "never writes where it reads"),
        ((in_dir, tmp_path / "o"), "give --corruption"),
    ]
    for args, message in cases:
        result = _run(*args)
        assert isinstance(result.exception, USER_ERRORS), (args, result.output)
        assert message in str(result.exception) and "\n" not in str(result.exception)


def test_severity_errors_blame_the_flag_not_a_file(in_dir, tmp_path):
    for name, severity in (("gaussian_noise", -1), ("mel_mask", 2), ("mel_noise", "-0.5")):
        result = _run(in_dir, tmp_path / "o", "-c", name, "-s", severity)
        assert isinstance(result.exception, AudiometricError)
        message = str(result.exception)
        assert message.startswith(f"--severity {float(severity)}: ") and "clip" not in message and "\n" not in message
    assert not (tmp_path / "o").exists() or not list((tmp_path / "o").glob("*.wav"))


def test_options_that_mean_nothing_for_the_corruption_are_errors(in_dir, pool_dir, tmp_path):
    cases = [
        (("-c", "gaussian_noise", "-s", 0.1, "--pool", pool_dir), "--pool: gaussian_noise uses no pool"),
        (("-c", "mel_mask", "-s", 0.1, "--target-label", "dog"), "--target-label: mel_mask uses no target"),
        (("--compose", "-s", 1), "--severity: --compose takes no --severity"),
    ]
    for args, message in cases:
        result = _run(in_dir, tmp_path / "o", *args)
        assert isinstance(result.exception, AudiometricError) and message in str(result.exception), result.output


def test_every_option_has_help_and_help_ends_with_real_examples(in_dir, pool_dir, tmp_path, monkeypatch):
    assert all(param.help for param in corrupt.params if isinstance(param, click.Option))
    text = CliRunner().invoke(corrupt, ["--help"]).output
    examples = [line.strip().split("  #")[0].split() for line in text.split("Examples:")[1].strip().splitlines()]
    assert len(examples) == 3 and all(e[:2] == ["audiometric", "corrupt"] for e in examples)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "ref").symlink_to(in_dir)
    (tmp_path / "events").symlink_to(pool_dir)
    for example in examples:  # each runs as written (quiet) on a small set
        result = CliRunner().invoke(corrupt, example[2:] + ["--no-progress"])
        assert result.exit_code == 0, (example, result.output, result.exception)


def test_corrupted_set_scores_strictly_with_the_manifest_ignored(in_dir, tmp_path):
    import torch
    from conftest import ToyBackbone

    from audiometric.audio.preprocess import Preprocess
    from audiometric.extraction.cache import EmbeddingCache
    from audiometric.extraction.clipset import extract_folder
    from audiometric.extraction.extract import Extractor

    (in_dir / "sub").mkdir()
    _write(in_dir / "sub" / "deep.flac", 7)
    corrupt_set(in_dir, tmp_path / "out", "gaussian_noise", 0.1)
    extractor = Extractor(
        backbones={"toy": ToyBackbone()},
        device=torch.device("cpu"),
        pre=Preprocess(),
        cache=EmbeddingCache(None),
        batch_size=4,
        workers=0,
        progress=False,
    )
    clips = extract_folder(str(tmp_path / "out"), extractor, strict=True)
    summary = clips.summary()
    assert summary["skipped"] == [] and summary["scored"] == 6 and "sub/deep.wav" in clips.names()
    assert [(e["file"].rsplit("/", 1)[1], "corrupt" in e["reason"]) for e in summary["ignored"]] == [
        (STAMP, False),
        ("manifest.json", True),
    ]


def test_entries_not_corrupted_are_named(in_dir, tmp_path):
    (in_dir / "notes.txt").write_text("hi")
    (in_dir / ".DS_Store").write_bytes(b"x")
    result = _run(in_dir, tmp_path / "out", "-c", "gaussian_noise", "-s", 0.1)
    assert result.exit_code == 0, result.output
    assert "not corrupted: 2 other entries in IN_DIR: .DS_Store (hidden file), notes.txt (not an audio" in result.output
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text())
    assert [e["name"] for e in manifest["passed_over"]] == [".DS_Store", "notes.txt"]


def test_score_strict_passes_on_corrupt_output_and_pairs_sub_folders(in_dir, tmp_path, monkeypatch):
    from conftest import ToyBackbone

    import audiometric.scoring.pipeline as score_module
    from audiometric.cli import main

    monkeypatch.setattr(score_module, "load_models", lambda needs, device, *_: {n: ToyBackbone().eval() for n in needs})
    _write(in_dir / "sub" / "deep.wav", 7)
    corrupt_set(in_dir, tmp_path / "out", "gaussian_noise", 0.1)
    out = tmp_path / "r.json"
    result = CliRunner().invoke(
        main,
        [
            "score",
            str(tmp_path / "out"),
            str(in_dir),
            "--metrics",
            "fd,kl",
            "--strict",
            "--workers",
            "0",
            "--no-progress",
            "--json",
            str(out),
        ],
        catch_exceptions=False,
    )
    assert result.exit_code == 0, result.output
    report = json.loads(out.read_text())
    assert report["generated"]["skipped"] == [] and report["generated"]["scored"] == 6
    assert [e["file"].rsplit("/", 1)[1] for e in report["generated"]["ignored"]] == [STAMP, "manifest.json"]
    assert report["metrics"]["kl_softmax"]["n_pairs"] == 6  # sub/deep.wav paired with sub/deep.wav


def test_short_names_are_the_same_run_as_registry_names(in_dir, tmp_path):
    """`-c noise` (the sweep's short name, from the registry entry) is `-c gaussian_noise`: same stamp, so the
    second spelling resumes the first run and rewrites nothing; an unknown name lists both spellings."""
    out = tmp_path / "noisy"
    assert _run(in_dir, out, "-c", "noise", "-s", "0.1").exit_code == 0
    first = _files(out)
    assert json.loads((out / "manifest.json").read_text())["run"]["corruption"] == "gaussian_noise"
    again = _run(in_dir, out, "-c", "gaussian_noise", "-s", "0.1")
    assert again.exit_code == 0, again.output
    assert _files(out) == first
    bad = _run(in_dir, tmp_path / "x", "-c", "nois", "-s", "0.1")
    assert isinstance(bad.exception, USER_ERRORS) and "gaussian_noise (noise)" in str(bad.exception)
