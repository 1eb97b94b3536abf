"""Issue 14, items 8, 10-12 and 15: truncated files named by every command, unusable files skipped (or
refused under --strict), options a corruption ignores refused, labels and prompt files read with clear errors."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from click.testing import CliRunner

from audiometric.cli import main
from audiometric.corrupt.labels import read_labels
from audiometric.datasets.prompts import read_prompts
from audiometric.errors import AudiometricError
from audiometric.sweep.spec import make_spec

SR = 16000


def _tone(path: Path, seconds: float = 0.5, seed: int = 0) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    wave = 0.1 * np.random.default_rng(seed).standard_normal(int(seconds * SR))
    sf.write(path, wave.astype(np.float32), SR, subtype="PCM_16")
    return path


def _truncate(path: Path) -> Path:
    """Keep the header and half the data: the header promises more frames than the file holds."""
    data = path.read_bytes()
    path.write_bytes(data[: 44 + (len(data) - 44) // 2])
    return path


def _cli(*args: object):
    return CliRunner().invoke(main, [str(a) for a in args])


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture()
def clips(tmp_path: Path) -> Path:
    root = tmp_path / "in"
    for i in range(3):
        _tone(root / f"clip{i}.wav", seed=i)
    _truncate(_tone(root / "cut.wav", seed=9))
    return root


def test_corrupt_skips_a_truncated_file_names_it_and_records_it(clips, tmp_path):
    result = _cli("corrupt", clips, tmp_path / "out", "-c", "gaussian_noise", "-s", "0.1", "--no-progress")
    assert result.exit_code == 0, result.output
    assert "cut.wav: truncated: the header promises 8000 frames" in result.stderr
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text())
    assert [e["name"] for e in manifest["files"]] == ["clip0.wav", "clip1.wav", "clip2.wav"]
    assert [e["name"] for e in manifest["skipped"]] == ["cut.wav"] and "truncated" in manifest["skipped"][0]["reason"]
    assert not (tmp_path / "out" / "cut.wav").exists()


def test_corrupt_strict_stops_before_writing_anything(clips, tmp_path):
    before = _snapshot(clips)
    result = _cli("corrupt", clips, tmp_path / "out", "-c", "gaussian_noise", "-s", "0.1", "--strict", "--no-progress")
    assert result.exit_code == 1 and "Traceback" not in result.output  # a data error
    assert "cut.wav: truncated" in result.stderr and "nothing written" in result.stderr
    assert not (tmp_path / "out").exists() and _snapshot(clips) == before


def test_datasets_export_and_check_name_a_truncated_file(tmp_path):
    root = tmp_path / "data"
    for i in range(2):
        _tone(root / f"a{i}.wav", seed=i)
    _truncate(root / "a1.wav")
    table = root / "clips.csv"
    with open(table, "w", newline="", encoding="utf-8-sig") as handle:  # with a BOM, as spreadsheets save it
        csv.writer(handle).writerows([["path", "caption"], ["a0.wav", "noise"], ["a1.wav", "more noise"]])
    result = _cli("datasets", "export", "--dataset", "csv", "--data-dir", table, "--out", tmp_path / "ref")
    assert result.exit_code == 1 and "a1.wav: truncated" in result.stderr and "Traceback" not in result.output
    assert not (tmp_path / "ref" / "a1.wav").exists()  # never zero-padded into the reference set
    result = _cli("datasets", "check", "--dataset", "csv", "--data-dir", table)
    assert result.exit_code == 0, result.output
    assert "1 unusable" in result.stdout and "a1.wav: truncated" in result.stderr


def test_sweep_refuses_options_the_corruption_does_not_use(tmp_path):
    with pytest.raises(AudiometricError, match="--ref: event_permutation uses no reference folder"):
        make_spec({"corruption": "permute", "pool": "p", "ref": "r", "out": str(tmp_path)})
    with pytest.raises(AudiometricError, match="--pool: gaussian_noise uses no pool .*interference"):
        make_spec({"corruption": "noise", "pool": "p", "ref": "r", "out": str(tmp_path)})
    with pytest.raises(AudiometricError, match="--labels: mel_mask uses no target classes"):
        make_spec({"corruption": "mask", "labels": "l.csv", "ref": "r", "out": str(tmp_path)})
    assert make_spec({"corruption": "noise", "ref": "r", "out": str(tmp_path)}).ref == "r"


def test_labels_csv_with_a_bom_is_read_and_wrong_columns_are_named(tmp_path):
    good = tmp_path / "labels.csv"
    good.write_text("path,label\na.wav,dog\nsub/b.wav,cat,\n", encoding="utf-8-sig")
    assert read_labels(good) == {"a.wav": "dog", "sub/b.wav": "cat"}
    esc50 = tmp_path / "esc50.csv"
    esc50.write_text("filename,fold,target,category\n1-100-A-0.wav,1,0,dog\n", encoding="utf-8-sig")
    with pytest.raises(AudiometricError, match="expected the columns path,label, found filename,fold,target,category"):
        read_labels(esc50)
    short = tmp_path / "short.csv"
    short.write_text("a.wav,dog\nb.wav\n")
    with pytest.raises(AudiometricError, match="row 2 has 1 column"):
        read_labels(short)


def test_prompt_rows_are_reported_with_their_row_number(tmp_path):
    table = tmp_path / "prompts.csv"
    table.write_text("name,prompt\nrain,rain on a roof\n\nrain,a dog barks\n", encoding="utf-8-sig")
    with pytest.raises(AudiometricError, match="row 4: the name 'rain' repeats row 2"):
        read_prompts(table)
    table.write_text("name,prompt\nrain,rain on a roof\ndog,\n")
    with pytest.raises(AudiometricError, match="row 3: empty prompt"):
        read_prompts(table)
    table.write_text("id,text\nrain,rain on a roof\n")
    with pytest.raises(AudiometricError, match="expected the columns name,prompt, found id,text"):
        read_prompts(table)
    lines = tmp_path / "prompts.txt"
    lines.write_text("rain\n\ndog barking\n")
    assert read_prompts(lines) == [("00000", "rain"), ("00001", "dog barking")]


def test_pool_csv_with_a_bom_is_read_and_wrong_columns_are_named(tmp_path):
    from corruptions.errors import CorruptionError
    from corruptions.pool import Pool

    _tone(tmp_path / "x.wav")
    table = tmp_path / "pool.csv"
    table.write_text("path,label\nx.wav,rain\n", encoding="utf-8-sig")
    assert Pool.from_path(table).classes() == ["rain"]
    table.write_text("filename,category\nx.wav,rain\n", encoding="utf-8-sig")
    with pytest.raises(CorruptionError, match="expected the columns path,label, found filename,category"):
        Pool.from_path(table)


def test_finetune_checkpoint_from_flags_and_config(tmp_path, monkeypatch):
    """``--checkpoint NAME=PATH`` on finetune, as score's; in a --config, a list or a single value."""
    import audiometric.ldm.train as train_package

    seen = []
    monkeypatch.setattr(train_package, "train", lambda cfg: seen.append(cfg) or {})
    base = ["finetune", "--dataset", "us8k", "--data-dir", tmp_path, "--model", "m", "--out", tmp_path / "o"]
    config = tmp_path / "c.yaml"
    config.write_text("checkpoint: [vggish=/w/v.pth, panns-cnn14-16k=/w/p.pth]\n")
    assert _cli(*base, "--config", config).exit_code == 0
    config.write_text("checkpoint: vggish=/w/v.pth\n")
    assert _cli(*base, "--config", config).exit_code == 0
    assert _cli(*base, "--checkpoint", "vggish=/w/x.pth").exit_code == 0
    assert [cfg.checkpoint for cfg in seen] == [
        ("vggish=/w/v.pth", "panns-cnn14-16k=/w/p.pth"),
        ("vggish=/w/v.pth",),
        ("vggish=/w/x.pth",),
    ]
    result = _cli(*base, "--checkpoint", "bogus=/w/x.pth")
    assert result.exit_code == 2 and "unknown checkpoint name 'bogus'" in result.stderr
