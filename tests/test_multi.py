"""One run, several encoders: ``METRIC@BACKBONE`` in ``--metrics`` equals separate single-backbone runs,
decodes each file once, and reaches stats, compare and the CLI through the one parse."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from conftest import tone_set

import audiometric
from audiometric.cli import main
from audiometric.errors import AudiometricError
from audiometric.extraction import loading
from audiometric.metrics import entry_label, entry_metric, parse_requests, request_labels, split_request

sys.path.insert(0, str(Path(__file__).parent / "golden"))
import update  # tests/golden/update.py: random checkpoints in the official layouts

pytestmark = [
    pytest.mark.filterwarnings("ignore::UserWarning"),  # N <= d on 6 clips: asserted in test_metrics
    pytest.mark.usefixtures("one_torch_thread"),
]


@pytest.fixture(scope="module")
def weights(tmp_path_factory):
    return {k: str(v) for k, v in update.random_checkpoints(tmp_path_factory.mktemp("weights")).items()}


@pytest.fixture(scope="module")
def sets(tmp_path_factory):
    root = tmp_path_factory.mktemp("sets")
    tone_set(root / "gen", 6, seconds=1.0, seed=1, noise=0.3)
    tone_set(root / "ref", 6, seconds=1.0, seed=2, noise=0.05)
    return str(root / "gen"), str(root / "ref")


def _score(sets, weights, metrics, backbone="panns-cnn14-16k", **kw):
    return audiometric.score(
        *sets, metrics, backbone, checkpoints=weights, cache=False, workers=0, progress=False, **kw
    )


def test_parse_keeps_plain_names_and_checks_both_parts():
    assert parse_requests("FD, is,fd@vggish,FD@vggish,fd") == ("fd", "is", "fd@vggish")
    assert split_request("kl_softmax@panns-cnn14-32k") == ("kl_softmax", "panns-cnn14-32k")
    assert request_labels("kl@aisfx") == {
        "kl_softmax@aisfx": "KL (softmax)@aisfx",
        "kl_sigmoid@aisfx": "KL (sigmoid)@aisfx",
    }
    assert entry_metric("fd_inf@vggish").name == "fd" and entry_label("fd_inf@vggish") == "FD∞@vggish"
    for bad, says in (("fd@", "METRIC@BACKBONE"), ("nope@vggish", "unknown metric"), ("fd@a@b", "METRIC@BACKBONE")):
        with pytest.raises(AudiometricError, match=says):
            parse_requests(bad)
    with pytest.raises(AudiometricError, match="unknown backbone 'nope'"):
        audiometric.score(".", ".", "fd@nope")
    with pytest.raises(AudiometricError, match="backbone 'aisfx' has no 'logits' output"):  # before any decode
        audiometric.score(".", ".", "fd,kl@aisfx", "aisfx")


def test_several_backbones_equal_separate_runs_with_one_decode_per_file(sets, weights, monkeypatch):
    decoded: list[str] = []
    real = loading.load

    def counting(path, *args, **kwargs):
        decoded.append(Path(path).name)
        return real(path, *args, **kwargs)

    monkeypatch.setattr(loading, "load", counting)
    both = _score(sets, weights, "fd,fd@vggish,kad@aisfx")
    assert sorted(decoded) == sorted(p.name for s in sets for p in Path(s).iterdir())  # every file once
    assert list(both) == ["fd", "fd@vggish", "kad@aisfx"]
    monkeypatch.setattr(loading, "load", real)
    alone = {
        "fd": _score(sets, weights, "fd")["fd"],
        "fd@vggish": _score(sets, weights, "fd", "vggish")["fd"],
        "kad@aisfx": _score(sets, weights, "kad", "aisfx")["kad"],
    }
    for key, entry in alone.items():
        assert both[key].value == pytest.approx(entry.value, rel=1e-6), key
        assert both[key].backbone == entry.backbone
    assert both["fd@vggish"].backbone == "vggish" and both["kad@aisfx"].backbone == "aisfx"
    assert set(both.as_dict()["backbones"]) == {"panns-cnn14-16k", "vggish", "aisfx"}


def test_at_entries_carry_intervals_and_labels_in_table_json_csv(sets, weights, tmp_path):
    result = _score(sets, weights, "kad,kad@vggish", "vggish", bootstrap=20)
    plain, asked = result["kad"], result["kad@vggish"]
    assert asked.value == plain.value and asked.ci == plain.ci  # same backbone, same draws
    assert "KAD@vggish" in result.table()
    result.to_csv(tmp_path / "r.csv")
    assert "kad@vggish," in (tmp_path / "r.csv").read_text()


def test_stats_file_carries_at_metrics(sets, weights, tmp_path):
    gen, ref = sets
    stats = audiometric.stats(
        ref, tmp_path / "ref.npz", metrics="fd,fd@aisfx", backbone="vggish", checkpoints=weights, cache=False,
        progress=False, workers=0,
    )  # fmt: skip
    assert set(stats.moments) == {"vggish:embedding", "aisfx:embedding"}
    against_file = _score((gen, str(tmp_path / "ref.npz")), weights, "fd@aisfx", "vggish")
    against_folder = _score(sets, weights, "fd@aisfx", "vggish")
    assert against_file["fd@aisfx"].value == pytest.approx(against_folder["fd@aisfx"].value, rel=1e-6)
    other = _score((gen, str(tmp_path / "ref.npz")), weights, "fad@aisfx,fd@vggish", "aisfx")  # FAD reads FD's maths
    assert other["fad@aisfx"].value == pytest.approx(against_folder["fd@aisfx"].value, rel=1e-6)
    assert list(other) == ["fad@aisfx", "fd@vggish"] and other["fd@vggish"].backbone == "vggish"


def test_cli_score_and_compare_take_the_syntax(sets, weights, tmp_path):
    gen, ref = sets
    ckpt = [a for name, path in weights.items() for a in ("--checkpoint", f"{name}={path}")]
    common = [*ckpt, "--no-cache", "--no-progress", "--workers", "0"]
    run = CliRunner().invoke(
        main,
        [
            "score",
            gen,
            ref,
            "--metrics",
            "fd@vggish,FD",
            "--backbone",
            "aisfx",
            "--json",
            str(tmp_path / "r.json"),
            *common,
        ],
    )
    assert run.exit_code == 0, run.output
    data = json.loads((tmp_path / "r.json").read_text())
    assert list(data["metrics"]) == ["fd@vggish", "fd"] and data["settings"]["metrics"] == ["fd@vggish", "fd"]
    bad = CliRunner().invoke(main, ["score", gen, ref, "--metrics", "fd@nope", *common])
    assert bad.exit_code == 2 and "unknown backbone 'nope'" in bad.output and "Traceback" not in bad.output
    compared = CliRunner().invoke(
        main,
        ["compare", gen, ref, "--ref", ref, "--metrics", "kad@vggish", "--permutations", "20", "--bootstrap", "20",
         "--json", str(tmp_path / "c.json"), *common],
    )  # fmt: skip
    assert compared.exit_code == 0, compared.output
    ranking = json.loads((tmp_path / "c.json").read_text())["ranking"]
    assert list(ranking) == ["kad@vggish"] and ranking["kad@vggish"][0]["system"] == Path(ref).name
    assert np.isfinite(ranking["kad@vggish"][1]["value"])


def test_sweep_spec_takes_the_same_syntax(tmp_path):
    from audiometric.sweep.spec import make_spec

    options = {"corruption": "noise", "out": str(tmp_path / "out"), "ref": str(tmp_path), "levels": "0,10"}
    spec = make_spec({**options, "metrics": "FD,kad@aisfx,kl@vggish"})
    assert spec.metrics == ("fd", "kad@aisfx", "kl@vggish")
    with pytest.raises(AudiometricError, match="METRIC@BACKBONE"):
        make_spec({**options, "metrics": "fd@"})
