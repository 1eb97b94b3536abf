"""``compare --report PATH.html``: one self-contained page a researcher can read and listen to offline.

It holds, with nothing fetched from the network: the value ± CI of every system per metric as inline SVG plots
(matplotlib), the pairwise table (Δ, CI, p, Holm p, significance), the ranking with compact letters, and per
system the clips farthest from the reference (:func:`audiometric.scoring.per_clip.per_clip`) with ``<audio>``
players whose sources are base64 WAV data URIs (the first :data:`AUDIO_SECONDS` of each clip, 16-bit).
A script sets ``data-rendered`` on ``<body>`` once every plot is in the page and every player has loaded.
"""

from __future__ import annotations

import base64
import html
import io
from dataclasses import replace
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import soundfile as sf

from audiometric.errors import AudiometricError
from audiometric.metrics import entry_labels
from audiometric.runtime.atomic import atomic_write_text
from audiometric.scoring.compare import Sets
from audiometric.scoring.compare_letters import pair_cells, ranking_rows
from audiometric.scoring.compute import Settings
from audiometric.scoring.per_clip import per_clip, per_clip_metrics

#: Clips listed per system, and the seconds of each embedded in the page.
FARTHEST, AUDIO_SECONDS = 3, 10.0

_STYLE = """body{font-family:sans-serif;max-width:70em;margin:2em auto;color:#222}
table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:.3em .6em;text-align:right}
th{background:#f3f3f3}td.l,th.l{text-align:left}.sig{font-weight:bold;color:#a00}.note{color:#666}"""

_SCRIPT = """window.addEventListener('load',function(){var players=[].slice.call(document.querySelectorAll('audio'));
function done(){var ready=players.filter(function(a){return a.readyState>=1}).length;
document.body.dataset.rendered='plots='+document.querySelectorAll('svg').length+' players='+ready+'/'+players.length}
players.forEach(function(a){a.addEventListener('loadedmetadata',done);a.load()});done()});"""


def _plot(key: str, entries: list[dict], label: str) -> str:
    """Inline SVG: each system's value with its CI as a horizontal error bar, best at the top."""
    fig, ax = plt.subplots(figsize=(6.0, 0.5 + 0.45 * len(entries)))
    y = np.arange(len(entries))[::-1]
    values = np.array([e["value"] for e in entries], dtype=float)
    low = np.array([e["ci"][0] if e.get("ci") else e["value"] for e in entries], dtype=float)
    high = np.array([e["ci"][1] if e.get("ci") else e["value"] for e in entries], dtype=float)
    err = np.vstack([np.maximum(values - low, 0.0), np.maximum(high - values, 0.0)])
    ax.errorbar(values, y, xerr=err, fmt="o", capsize=4, color="#1f5fa8")
    ax.set_yticks(y, [f"{e['system']} ({e['letters']})" for e in entries])
    ax.set_xlabel(f"{label} (dots: value; bars: bootstrap CI; letters: compact letter display)")
    ax.margins(y=0.3)
    fig.tight_layout()
    buffer = io.StringIO()
    fig.savefig(buffer, format="svg")
    plt.close(fig)
    text = buffer.getvalue()
    return text[text.index("<svg") :]


def _pairs_table(result: dict, labels: dict[str, str]) -> str:
    head = "<tr><th class=l>A</th><th class=l>B</th><th class=l>metric</th><th>A</th><th>B</th><th>Δ = B − A</th>"
    rows = [head + "<th>CI of Δ</th><th>p</th><th>p (Holm)</th></tr>"]
    fmt = lambda v: "—" if v is None else f"{v:.4g}"  # noqa: E731
    for pair in result["pairs"]:
        for key, m in pair["metrics"].items():
            cls = " class=sig" if m["significant"] else ""
            cells = [html.escape(pair["a"]), html.escape(pair["b"]), html.escape(labels.get(key, key))]
            a, b, diff, ci = pair_cells(result, pair, key)
            rows.append(
                "<tr>"
                + "".join(f"<td class=l>{c}</td>" for c in cells)
                + f"<td>{a}</td><td>{b}</td><td{cls}>{diff}</td><td>{ci}</td>"
                + f"<td>{fmt(m['p_value'])}</td><td{cls}>{fmt(m['p_adjusted'])}</td></tr>"
            )
    return "<table>" + "\n".join(rows) + "</table>"


def _ranking_table(result: dict, labels: dict[str, str]) -> str:
    head = "<tr>" + "".join(f"<th>{h}</th>" for h in ("metric", "rank", "system", "value", "CI", "letters")) + "</tr>"
    body = [
        "<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in row) + "</tr>"
        for row in ranking_rows(result["ranking"], labels)
    ]
    return "<table>" + head + "\n".join(body) + "</table>"


def _audio_uri(path: str) -> str | None:
    """The first seconds of ``path`` as a 16-bit WAV data URI, or ``None`` when the file cannot be read."""
    try:
        info = sf.info(path)
        audio, rate = sf.read(path, frames=int(AUDIO_SECONDS * info.samplerate), dtype="float32", always_2d=True)
    except (OSError, RuntimeError, sf.LibsndfileError):
        return None
    buffer = io.BytesIO()
    sf.write(buffer, audio.mean(axis=1), rate, format="WAV", subtype="PCM_16")
    return "data:audio/wav;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def _farthest(sets: Sets, settings: Settings) -> str:
    """Per system, the clips farthest from the reference (per-clip scores), each with a player."""
    metrics = tuple(m for m in settings.metrics if m in per_clip_metrics())
    if not metrics:
        return f"<p class=note>Per-clip scores need one of {', '.join(per_clip_metrics())} in the metrics.</p>"
    parts = []
    for label, clips in sets.systems.items():
        try:
            rows = per_clip(replace(settings, metrics=metrics), clips, sets.ref, sets.ref_stats)[:FARTHEST]
        except AudiometricError as err:
            parts.append(f"<h3>{html.escape(label)}</h3><p class=note>{html.escape(str(err))}</p>")
            continue
        paths = {name: clip.path for name, clip in zip(clips.names(), clips.extraction.clips)}
        items = []
        for row in rows:
            scores = ", ".join(f"{k} {v:.4g}" for k, v in row.items() if isinstance(v, float))
            uri = _audio_uri(str(Path(paths[row["clip"]])))
            player = f'<audio controls preload="auto" src="{uri}"></audio>' if uri else "<i>audio file not found</i>"
            items.append(f"<li><b>{html.escape(row['clip'])}</b>: {html.escape(scores)}<br>{player}</li>")
        parts.append(f"<h3>{html.escape(label)}</h3><ol>{''.join(items)}</ol>")
    return "\n".join(parts)


def render(result: dict, sets: Sets, settings: Settings) -> str:
    """The report page as one HTML string."""
    labels = entry_labels()
    plots = "\n".join(
        f"<h3>{html.escape(labels.get(k, k))}</h3>{_plot(k, entries, labels.get(k, k))}"
        for k, entries in result["ranking"].items()
    )
    alpha = result["provenance"]["settings"]["alpha"]
    warnings = "".join(f"<li>{html.escape(w)}</li>" for w in result["provenance"]["warnings"])
    not_computed = "".join(
        f"<li>{html.escape(m)}: {html.escape(why)}</li>" for m, why in result["provenance"]["not_computed"].items()
    )
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>audiometric compare</title><style>{_STYLE}</style></head>
<body><h1>audiometric compare</h1>
<p>Systems {html.escape(", ".join(result["systems"]))} against {html.escape(str(result["reference"]))}.
Δ = m(B) − m(A); p: permutation test; significant (bold red) at alpha = {alpha} after Holm correction.</p>
<h2>Values with bootstrap CIs</h2>{plots}
<h2>Pairwise comparisons</h2>{_pairs_table(result, labels)}
<h2>Ranking</h2><p class=note>Systems sharing a letter are not significantly different.</p>{_ranking_table(result, labels)}
<h2>Clips farthest from the reference</h2>{_farthest(sets, settings)}
<h2>Warnings</h2><ul>{warnings or "<li>none</li>"}{not_computed}</ul>
<p class=note>audiometric {html.escape(result["provenance"]["audiometric"])}, {result["provenance"]["created"]}</p>
<script>{_SCRIPT}</script></body></html>
"""


def write_report(result: dict, sets: Sets, settings: Settings, path: str | Path) -> Path:
    """Write the report page atomically."""
    return atomic_write_text(path, render(result, sets, settings))


__all__ = ["AUDIO_SECONDS", "FARTHEST", "render", "write_report"]
