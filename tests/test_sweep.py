"""Sweeps end to end on a toy backbone: one per corruption, outputs, cost bound, interrupt and resume."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import ToyBackbone, tone_set, write_wav

import audiometric.sweep.cells as cells_module
import audiometric.sweep.core as sweep_core
from audiometric.errors import AudiometricError, OutputError
from audiometric.extraction.cache import EmbeddingCache
from audiometric.extraction.extract import Extractor
from audiometric.scoring.pipeline import ExtractionOptions
from audiometric.sweep import make_spec, run_sweep, swap
from audiometric.sweep.summary import COLUMNS, recompute

N_CLIPS = 12
OPTS = ExtractionOptions(device="cpu", workers=0, progress=False)


@pytest.fixture(autouse=True)
def few_swaps(monkeypatch) -> None:
    """49 within-pair swaps per cell instead of 199: p can still reach 0.02, detection after Holm over 2 levels."""
    monkeypatch.setattr(swap, "PERMUTATIONS", 49)


@pytest.fixture
def toy(monkeypatch) -> list[ToyBackbone]:
    """Backbone name ``toy`` (embedding + logits) for sweeps; the list collects every instance built.

    The sweep's adapter builds the extractor (``Extractor`` with the default cache, as ``make_extractor``
    does); other backbone names go to the real ``make_extractor``.
    """
    made: list[ToyBackbone] = []
    real = sweep_core.make_extractor

    def make_extractor(needs, opts, progress=True):
        if set(needs) != {"toy"}:
            return real(needs, opts, progress)
        made.append(ToyBackbone())
        return Extractor(
            backbones={"toy": made[-1]},
            device=torch.device("cpu"),
            pre=opts.preprocess,
            cache=EmbeddingCache.default(opts.use_cache),
            batch_size=opts.batch_size,
            workers=opts.workers,
            progress=False,
        )

    monkeypatch.setattr(sweep_core, "make_extractor", make_extractor)
    return made


def _noise_clip(rng: np.random.Generator, kind: int, seconds: float = 1.0, rate: int = 16000) -> np.ndarray:
    """Band-limited noise of a class-specific colour (kind 0..3), peak 0.5."""
    x = rng.standard_normal(int(seconds * rate))
    x = np.convolve(x, np.ones(1 + 6 * kind) / (1 + 6 * kind), "same") if kind else x
    return (0.5 * x / np.abs(x).max()).astype(np.float32)


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> dict[str, Path]:
    """12 reference tones with a labels CSV, and a 3-class pool (class per folder) of coloured noise."""
    root = tmp_path_factory.mktemp("sweepdata")
    tone_set(root / "ref", N_CLIPS, seconds=1.0)
    labels = root / "labels.csv"
    labels.write_text("path,label\n" + "".join(f"clip{i:03d}.wav,tone\n" for i in range(N_CLIPS)))
    rng = np.random.default_rng(7)
    for kind, label in enumerate(("white", "pink", "brown")):
        for k in range(3):
            write_wav(root / "pool" / label / f"{k}.wav", _noise_clip(rng, kind + 1 if kind else 0), 16000)
    return {"ref": root / "ref", "labels": labels, "pool": root / "pool"}


CASES = {
    "noise": dict(levels="0,0.1,1", protocol="paired", metrics="fd,is,kl,kad,density_coverage"),
    "mel-noise": dict(levels="0,3,9", metrics="fd,kl,kad"),
    "mask": dict(levels="0,0.2,0.5", metrics="fd,kl"),
    "interference": dict(levels="0,1,2", metrics="fd,kad", pool=True),
    "interference-fraction": dict(levels="0,0.5,1", metrics="fd,kad", pool=True, params={"snr_db": "-5"}),
    "permute": dict(levels="0,2,3", metrics="fd,kad", params={"n_clips": "8", "n_events": "3", "event_max_s": "0.4"}),
}


def _spec(name: str, out: Path, data: dict[str, Path], **extra):
    case = {**CASES[name], **extra}
    options = {
        "corruption": name,
        "out": str(out),
        "backbone": "toy",
        "seeds": case.get("seeds", 2),
        "levels": case["levels"],
        "metrics": case["metrics"],
        "protocol": case.get("protocol", "split"),
        "params": case.get("params", {}),
        "keep_audio": case.get("keep_audio", False),
    }
    if name == "permute":
        options["pool"] = str(data["pool"])
    else:
        options["ref"] = str(data["ref"])
    if case.get("pool"):
        options.update(pool=str(data["pool"]), labels=str(data["labels"]))
    return make_spec(options)


def _rows(out: Path) -> list[dict]:
    with open(out / "results.csv", newline="") as fh:
        return list(csv.DictReader(fh))


@pytest.mark.parametrize("name", list(CASES))
def test_sweep_end_to_end_and_resume(name, data, tmp_path, toy, monkeypatch):
    spec = _spec(name, tmp_path / "out", data)
    real_write = cells_module.write_cell
    written = []

    def interrupt_after_first(path, cell):
        real_write(path, cell)
        written.append(path)
        raise KeyboardInterrupt

    monkeypatch.setattr(cells_module, "write_cell", interrupt_after_first)
    with pytest.raises(KeyboardInterrupt):
        run_sweep(spec, OPTS)
    assert len(written) == 1 and not (tmp_path / "out" / "results.csv").exists()
    monkeypatch.setattr(cells_module, "write_cell", real_write)

    resumed = run_sweep(spec, OPTS)
    assert (resumed["cells"], resumed["cells_resumed"], resumed["cells_computed"]) == (6, 1, 5)
    for output in ("results.csv", "results.json", "summary.md", "summary.json", "figure.png"):
        assert (tmp_path / "out" / output).stat().st_size > 0
    rows = _rows(tmp_path / "out")
    assert tuple(rows[0]) == COLUMNS
    assert sorted({float(r["level"]) for r in rows}) == [float(v) for v in spec.levels]
    assert {int(r["seed"]) for r in rows} == {0, 1}
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert summary["metrics"] == recompute(tmp_path / "out")  # reproducible from the CSV (and the cells)
    for verdict in summary["metrics"].values():
        assert {"detects", "threshold", "rho", "levels", "verdict"} <= set(verdict)
        assert verdict["verdict"] == ("detects" if verdict["detects"] else "does not detect")
        for level in verdict["levels"]:
            assert {"level", "difference", "ci", "p_value", "p_adjusted", "effect_vs_clean_spread"} <= set(level)

    calls_before = sum(m.calls for m in toy)
    again = run_sweep(spec, OPTS)
    assert (again["cells_resumed"], again["cells_computed"]) == (6, 0)
    assert again["reference_backbone_passes"] == again["cell_backbone_passes"] == 0
    assert sum(m.calls for m in toy) == calls_before  # no forward pass at all
    cold = run_sweep(_spec(name, tmp_path / "cold", data), OPTS)
    assert cold["cells_computed"] == 6
    assert not list((tmp_path / "cold" / "cells").rglob("*.wav"))  # corrupted audio removed with each cell
    assert (tmp_path / "out" / "results.csv").read_bytes() == (tmp_path / "cold" / "results.csv").read_bytes()

    # cost: level-0 cells and unselected clips are never embedded again
    n = cold["reference_clips"]
    per_cell = n if spec.protocol == "paired" else n // 2
    assert cold["cell_backbone_passes"] <= (len(spec.levels) - 1) * spec.seeds * per_cell
    results = json.loads((tmp_path / "cold" / "results.json").read_text())
    assert all(c["cache"]["misses"] == 0 for c in results["cells"] if c["level"] == 0)


def test_paired_level_zero_is_exact_and_noise_is_detected(data, tmp_path, toy):
    run_sweep(_spec("noise", tmp_path / "out", data), OPTS)
    rows = _rows(tmp_path / "out")
    zero = {r["metric"]: float(r["value"]) for r in rows if float(r["level"]) == 0}
    # the corrupted set is the reference itself: 0 up to float rounding (FD) and the reference's 1e-6 epsilon (KL)
    assert abs(zero["fd"]) < 1e-9
    assert abs(zero["kl_softmax"]) < 1e-5 and abs(zero["kl_sigmoid"]) < 1e-5
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert summary["metrics"]["fd"]["verdict"] == "detects"
    assert summary["axis"]["snr"] is True
    # a metric with several entries files each under its own name, with the metric's direction
    better = {r["metric"]: r["better"] for r in rows}
    assert better["density"] == better["coverage"] == better["is"] == "higher" and better["kl_sigmoid"] == "lower"


def test_fraction_mode_embeds_only_selected_clips(data, tmp_path, toy):
    counters = run_sweep(_spec("interference-fraction", tmp_path / "out", data, keep_audio=True), OPTS)
    per_cell = counters["reference_clips"] // 2
    selected = sum(round(level * per_cell) for level in (0, 0.5, 1)) * 2  # two seeds
    # a clip's interferers depend on (seed, name) only, so a clip selected at 0.5 and at 1 has the same bytes
    # and is embedded once: every corrupted clip of half A, once per seed
    assert counters["cell_backbone_passes"] == 2 * per_cell < selected
    # only the selected clips were written (unselected ones are read from the reference itself)
    assert len(list((tmp_path / "out" / "cells").rglob("*.wav"))) == selected


def test_new_level_computes_only_its_cells(data, tmp_path, toy):
    run_sweep(_spec("mask", tmp_path / "out", data), OPTS)
    more = run_sweep(_spec("mask", tmp_path / "out", data, levels="0,0.2,0.35,0.5"), OPTS)
    assert (more["cells_resumed"], more["cells_computed"]) == (6, 2)
    other = _spec("mask", tmp_path / "out", data, params={"mode": "time"})
    with pytest.raises(OutputError, match=r"other settings: params.mode='patch' \(now 'time'\).*--overwrite"):
        run_sweep(other, OPTS)  # issue 14 item 4: another experiment's results are never replaced silently
    assert run_sweep(other, OPTS, overwrite=True)["cells_computed"] == 6


def test_failed_cell_is_recorded_and_sweep_goes_on(tmp_path, toy):
    for i in range(4):
        write_wav(tmp_path / "silent" / f"s{i}.wav", np.zeros(16000, dtype=np.float32), 16000)
    spec = make_spec(
        {
            "corruption": "noise",
            "ref": str(tmp_path / "silent"),
            "out": str(tmp_path / "out"),
            "backbone": "toy",
            "metrics": "fd",
            "seeds": 1,
            "levels": "0,1",
            "protocol": "paired",
        }
    )
    counters = run_sweep(spec, OPTS)
    assert counters["cells_computed"] == 2
    rows = _rows(tmp_path / "out")
    failed = [r for r in rows if float(r["level"]) == 1]
    assert failed and failed[0]["value"] == "" and "silent" in failed[0]["note"]
    assert json.loads((tmp_path / "out" / "summary.json").read_text())["metrics"]["fd"]["verdict"] == "does not detect"


@pytest.mark.parametrize(
    "options, message",
    [
        ({"levels": "0,2"}, "outside mel_mask's range"),
        ({"levels": "0.1,0.2"}, "must include 0"),
        ({"metrics": "fd,is"}, "IS uses 10 splits"),
        ({"corruption": "interference", "levels": "0,4", "pool": "POOL", "labels": "LABELS"}, "classes other than"),
        ({"corruption": "permute", "ref": None, "pool": "POOL", "params": {"n_events": "4"}}, "need"),
        ({"corruption": "permute", "ref": None, "pool": "POOL", "levels": "0,1"}, "exactly 1 event"),
        ({"corruption": "permute", "pool": "POOL"}, "--ref: event_permutation uses no reference folder"),
        ({"params": {"bogus": "1"}}, "unknown parameter 'bogus'"),
        ({"metrics": "fd,bogus"}, r"unknown metric.*bogus"),
        ({"out": "REF/sweep"}, "--out is inside the input"),
        ({"metrics": "fd,kl", "backbone": "aisfx", "protocol": "paired"}, "no 'logits' output"),
        ({"metrics": "fd,is", "backbone": "aisfx"}, "no 'logits' output"),  # named before IS's clip count
    ],
)
def test_bad_input_is_one_line_before_any_work(options, message, data, tmp_path, toy):
    merged = {
        "corruption": "mask",
        "ref": str(data["ref"]),
        "out": str(tmp_path / "out"),
        "backbone": "toy",
        "metrics": "fd",
        **options,
    }
    for key, value in (("pool", data["pool"]), ("labels", data["labels"])):
        if merged.get(key) == key.upper():
            merged[key] = str(value)
    merged["out"] = merged["out"].replace("REF", str(data["ref"]))
    with pytest.raises(AudiometricError, match=message) as err:
        run_sweep(make_spec(merged), OPTS)
    assert "\n" not in str(err.value)
    assert not (Path(merged["out"]) / "cells").exists()


def test_cli_config_with_flag_override(data, tmp_path):
    from click.testing import CliRunner

    from audiometric.cli import main

    config = tmp_path / "noise.yaml"
    config.write_text(
        f"corruption: noise\nref: {data['ref']}\nout: {tmp_path / 'ignored'}\nlevels: [0, 1]\n"
        "seeds: 1\nmetrics: fd\nbackbone: aisfx\nprotocol: paired\nworkers: 0\n"
    )
    result = CliRunner().invoke(
        main, ["sweep", "--config", str(config), "--out", str(tmp_path / "out"), "--no-progress"]
    )
    assert result.exit_code == 0, result.output
    assert "| fd | lower |" in result.output
    assert (tmp_path / "out" / "figure.png").exists() and not (tmp_path / "ignored").exists()
    bad = CliRunner().invoke(main, ["sweep", "--config", str(config), "--metrics", "fd,is"])
    assert bad.exit_code == 2 and bad.output.startswith("error: ") and "logits" in bad.output


def test_fig1_assembles_one_row_per_panel(data, tmp_path, toy):
    import importlib.util

    script = Path(__file__).resolve().parents[1] / "experiments" / "fig1.py"
    spec = importlib.util.spec_from_file_location("fig1", script)
    fig1 = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(fig1)
    folders = []
    for name in ("noise", "mask"):
        run_sweep(_spec(name, tmp_path / name, data, seeds=1, metrics="fd"), OPTS)
        folders.append(tmp_path / name)
    import matplotlib.image

    fig1.assemble(folders[:1], tmp_path / "one.png")
    fig1.assemble(folders, tmp_path / "two.png")
    one, two = (matplotlib.image.imread(tmp_path / f"{n}.png").shape[0] for n in ("one", "two"))
    assert two > 1.6 * one  # one row of panels per sweep
    for panel in fig1.PANELS:  # every shipped config is a valid sweep
        assert make_spec(fig1.load_config(fig1.HERE / f"fig1_{panel}.yaml")).seeds == 3


def test_split_halves_are_disjoint_seeded_and_kl_pairs_with_half_a():
    from audiometric.sweep.cells import members

    a0, a0_again, a1 = members("split", 13, 0), members("split", 13, 0), members("split", 13, 1)
    assert a0 == a0_again and a0.generated != a1.generated
    assert len(a0.generated) == 6 and sorted(a0.generated + a0.reference) == list(range(13))
    assert a0.kl_reference == a0.generated  # KL: each corrupted A clip against its own clean original
    paired = members("paired", 5, 3)
    assert paired.generated == paired.reference == paired.kl_reference == tuple(range(5))


def test_dropped_reference_files_are_named_and_strict_stops(data, tmp_path, toy):
    """Issue 14 item 9: an unusable reference file is named on stderr (a warning), not only in results.json;
    --strict makes it an error before any cell."""
    import dataclasses
    import shutil

    from click.testing import CliRunner

    from audiometric.cli import main

    ref = tmp_path / "ref"
    shutil.copytree(data["ref"], ref)
    cut = ref / "clip000.wav"
    cut.write_bytes(cut.read_bytes()[:2000])  # the header promises 1 s, the data holds less
    options = {"corruption": "noise", "ref": str(ref), "out": str(tmp_path / "out"), "backbone": "toy"}
    spec = make_spec({**options, "levels": "0,1", "seeds": 1, "metrics": "fd", "protocol": "paired"})
    with pytest.warns(UserWarning, match=r"skipped .*clip000.wav: truncated") as caught:
        run_sweep(spec, OPTS)
    assert any("1 unusable file(s) left out" in str(w.message) for w in caught)
    strict = make_spec({**options, "out": str(tmp_path / "strict"), "levels": "0,1", "seeds": 1, "metrics": "fd"})
    with pytest.raises(AudiometricError, match=r"clip000.wav: truncated.*--strict"):
        run_sweep(strict, dataclasses.replace(OPTS, strict=True))
    assert not (tmp_path / "strict" / "cells").exists()
    assert "--strict" in CliRunner().invoke(main, ["sweep", "--help"]).output


def test_metric_at_backbone_requests_get_their_swap_test(data, tmp_path, toy):
    # fd@toy and kl@toy (split: KL pairs each corrupted A clip with its own clean original) are tested by swaps
    run_sweep(_spec("mask", tmp_path / "out", data, metrics="fd@toy,kl@toy"), OPTS)
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())["metrics"]
    assert {"fd@toy", "kl_softmax@toy", "kl_sigmoid@toy"} <= set(summary)
    assert all("swap test" in summary[key]["test"] for key in ("fd@toy", "kl_softmax@toy"))
    assert summary == recompute(tmp_path / "out")
