"""Dataset loaders on fake official layouts: splits, prompts, subsets and every bad input."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from audiometric import datasets
from audiometric.errors import AudiometricError

US8K_CLASSES = ["dog_bark", "siren", "street_music"]


def _wav(path: Path, seconds: float = 0.1, rate: int = 22050) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(path, np.zeros(int(seconds * rate), np.float32), rate)


def fake_us8k(root: Path, per_fold: int = 2, audio: bool = True) -> Path:
    lines = ["slice_file_name,fsID,start,end,salience,fold,classID,class"]
    for fold in range(1, 11):
        for k in range(per_fold):
            cls = (fold + k) % len(US8K_CLASSES)
            name = f"{1000 + fold}-{cls}-0-{k}.wav"
            lines.append(f"{name},{1000 + fold},0.0,1.0,1,{fold},{cls},{US8K_CLASSES[cls]}")
            if audio:
                _wav(root / "audio" / f"fold{fold}" / name)
    (root / "metadata").mkdir(parents=True, exist_ok=True)
    (root / "metadata" / "UrbanSound8K.csv").write_text("\n".join(lines) + "\n")
    return root


def fake_esc50(root: Path) -> Path:
    lines = ["filename,fold,target,category,esc10,src_file,take"]
    for fold in range(1, 6):
        for k, cat in enumerate(["dog", "chirping_birds"]):
            name = f"{fold}-{100 + k}-A-{k}.wav"
            lines.append(f"{name},{fold},{k},{cat},True,{100 + k},A")
            _wav(root / "audio" / name)
    (root / "meta").mkdir(parents=True, exist_ok=True)
    (root / "meta" / "esc50.csv").write_text("\n".join(lines) + "\n")
    return root


def fake_audiocaps(root: Path) -> Path:
    rows = [
        "audiocap_id,youtube_id,start_time,caption",
        "12,abc,30,a dog barks twice",
        "7,abc,30,a dog is barking",
        "20,xyz,0,rain falls on a roof",
    ]
    root.mkdir(parents=True, exist_ok=True)
    (root / "test.csv").write_text("\n".join(rows) + "\n")
    _wav(root / "audio" / "abc_30.wav")
    _wav(root / "audio" / "xyz_0.wav")
    return root


def test_registry_lists_every_dataset():
    assert datasets.available() == ["us8k", "esc50", "audiocaps", "audioset", "csv"]
    for name in datasets.available():
        assert datasets.get(name).name == name
    with pytest.raises(AudiometricError, match="unknown; choose one of us8k"):
        datasets.get("nope")


def test_us8k_default_split_is_fold_10_and_train_is_folds_1_to_9(tmp_path):
    root = fake_us8k(tmp_path / "us8k")
    spec = datasets.get("us8k")
    test = spec.items(root)
    assert {item.split for item in test} == {"fold10"} and len(test) == 2
    train = spec.items(root, split="train")
    assert len(train) == 18 and "fold10" not in {item.split for item in train}
    item = test[0]
    assert item.clip_id == "1010-1-0-0" and item.path == root / "audio" / "fold10" / "1010-1-0-0.wav"
    assert item.label == "siren" and item.prompt == "siren"
    assert [i.prompt for i in spec.items(root, split="fold1,2")][:2] == ["siren", "street music"]


def test_esc50_folds_and_prompt_template(tmp_path):
    root = fake_esc50(tmp_path / "esc50")
    spec = datasets.get("esc50")
    assert len(spec.items(root)) == 2 and len(spec.items(root, split="train")) == 8
    prompts = [i.prompt for i in spec.items(root, prompt_template="the sound of {label}")]
    assert prompts == ["the sound of dog", "the sound of chirping birds"]
    mapped = spec.items(root, captions={"chirping_birds": "birds sing at dawn"})
    assert [i.prompt for i in mapped] == ["dog", "birds sing at dawn"]


def test_eval_size_is_a_seeded_subset_in_dataset_order(tmp_path):
    root = fake_us8k(tmp_path / "us8k", per_fold=5)
    spec = datasets.get("us8k")
    full = [i.clip_id for i in spec.items(root, split="all")]
    a = [i.clip_id for i in spec.items(root, split="all", eval_size=7, seed=1)]
    assert a == [i.clip_id for i in spec.items(root, split="all", eval_size=7, seed=1)]
    assert a != [i.clip_id for i in spec.items(root, split="all", eval_size=7, seed=2)]
    assert len(a) == 7 and a == sorted(a, key=full.index)
    with pytest.raises(AudiometricError, match="has only 5 clips"):
        spec.items(root, eval_size=6)


def test_audiocaps_one_item_per_clip_first_caption(tmp_path):
    root = fake_audiocaps(tmp_path / "ac")
    items = datasets.get("audiocaps").items(root)
    assert [(i.clip_id, i.prompt) for i in items] == [("abc_30", "a dog is barking"), ("xyz_0", "rain falls on a roof")]
    with pytest.raises(AudiometricError, match="file-pattern"):
        datasets.get("audiocaps").items(root, file_pattern="{ytid}.wav")
    with pytest.raises(AudiometricError, match="train.csv not found"):
        datasets.get("audiocaps").items(root, split="train")


def test_audioset_labels_from_the_ontology(tmp_path):
    root = tmp_path / "as"
    root.mkdir()
    (root / "ontology.json").write_text(
        json.dumps([{"id": "/m/09x0r", "name": "Speech"}, {"id": "/m/0bt9lr", "name": "Dog"}])
    )
    (root / "eval_segments.csv").write_text(
        "# Segments csv\n# YTID, start_seconds, end_seconds, positive_labels\n"
        '--abc, 30.000, 40.000, "/m/09x0r,/m/0bt9lr"\n'
    )
    _wav(root / "audio" / "--abc_30.wav")
    (item,) = datasets.get("audioset").items(root)
    assert (item.clip_id, item.label, item.prompt) == ("--abc_30", "Speech, Dog", "speech, dog")


def test_generic_csv(tmp_path):
    _wav(tmp_path / "a" / "one.wav")
    _wav(tmp_path / "two.wav")
    table = tmp_path / "clips.csv"
    table.write_text("path,caption,label,split\na/one.wav,a bell,bell,test\ntwo.wav,a horn,horn,train\n")
    items = datasets.get("csv").items(table)
    assert [(i.clip_id, i.prompt, i.path) for i in items] == [("one", "a bell", tmp_path / "a" / "one.wav")]
    with pytest.raises(AudiometricError, match="must be the CSV file itself"):
        datasets.get("csv").items(tmp_path)


def test_bad_inputs_are_one_line_errors(tmp_path):
    spec = datasets.get("us8k")
    with pytest.raises(AudiometricError, match="UrbanSound8K.csv not found"):
        spec.items(tmp_path)
    root = fake_us8k(tmp_path / "us8k", audio=False)
    with pytest.raises(AudiometricError, match=r"audio file .*fold10.* not found .*--skip-missing"):
        spec.items(root)
    with pytest.raises(AudiometricError, match="no clips in split"), pytest.warns(UserWarning):
        spec.items(root, skip_missing=True)
    _wav(root / "audio" / "fold10" / "1010-1-0-0.wav")
    missing: list[Path] = []
    with pytest.warns(UserWarning, match="skipping 1 clips"):
        kept = spec.items(root, skip_missing=True, missing=missing)
    assert [i.clip_id for i in kept] == ["1010-1-0-0"] and [p.name for p in missing] == ["1010-2-0-1.wav"]
    with pytest.raises(AudiometricError, match="--split 'fold11'"):
        spec.items(root, split="fold11")
    with pytest.raises(AudiometricError, match=r"lacks the column\(s\) fold"):
        (tmp_path / "bad" / "metadata").mkdir(parents=True)
        (tmp_path / "bad" / "metadata" / "UrbanSound8K.csv").write_text("slice_file_name,class\nx.wav,siren\n")
        spec.items(tmp_path / "bad")
    (tmp_path / "bad" / "metadata" / "UrbanSound8K.csv").write_text("slice_file_name,fold,class\nx.wav,ten,siren\n")
    with pytest.raises(AudiometricError, match="has the fold 'ten', not an integer"):
        spec.items(tmp_path / "bad")
    with pytest.raises(AudiometricError, match="takes no option 'file_pattern'"):
        spec.items(root, file_pattern="{x}")
