"""Ranking of systems per metric with a compact letter display (systems sharing a letter do not differ).

Letters come from the insert-and-absorb algorithm of Piepho (2004), "An algorithm for a letter-based
representation of all-pairwise comparisons", J. Comput. Graph. Stat. 13(2): start with one column holding every
system; for each significantly different pair, split every column holding both into one without each; drop
columns contained in another. Columns are then lettered a, b, ... in the order of their best system.
"""

from __future__ import annotations

import csv
import io
import string
from collections.abc import Iterable, Sequence

from audiometric.scoring.report import format_value


def letters(order: Sequence[str], different: Iterable[tuple[str, str]]) -> dict[str, str]:
    """System -> its letters; ``order``: systems best first; ``different``: significantly different pairs."""
    columns: list[set[str]] = [set(order)]
    for i, j in different:
        split = []
        for column in columns:
            if i in column and j in column:
                split += [column - {i}, column - {j}]
            else:
                split.append(column)
        # absorb: a column inside another says nothing more (Piepho 2004, step 3)
        columns = [
            c for k, c in enumerate(split) if c and not any(c < o or (c == o and m < k) for m, o in enumerate(split))
        ]
    rank = {name: r for r, name in enumerate(order)}
    columns.sort(key=lambda c: sorted(rank[n] for n in c))
    alphabet = string.ascii_lowercase + string.ascii_uppercase
    return {name: "".join(alphabet[k % len(alphabet)] for k, c in enumerate(columns) if name in c) for name in order}


def _interval(ci: Sequence[float], resolution: float) -> str:
    """``[lo, hi]`` to 4 significant digits, rounding noise as 0."""
    return f"[{format_value(ci[0], resolution, digits=4)}, {format_value(ci[1], resolution, digits=4)}]"


def pair_cells(result: dict, pair: dict, key: str) -> list[str]:
    """Pair ``pair``'s A, B, Δ (signed) and CI of Δ for entry ``key`` of compare's ``result`` as table text:
    4 significant digits; rounding noise (within the two systems' summed ``resolution``) as 0."""
    m = pair["metrics"][key]
    floor = sum(e.get("resolution", 0.0) for e in result["ranking"].get(key, []) if e["system"] in pair.values())
    value = lambda v: format_value(v, floor, digits=4)  # noqa: E731
    ci = "—" if m["ci"] is None else _interval(m["ci"], floor)
    return [value(m["a"]), value(m["b"]), format_value(m["difference"], floor, digits=4, signed=True), ci]


def ranking_rows(ranking: dict[str, list[dict]], labels: dict[str, str]) -> list[list[str]]:
    """One row per metric and system: metric, rank, system, value, CI, letters (strings, for Markdown and CSV)."""
    rows = []
    for key, entries in ranking.items():
        for entry in entries:
            ci = entry.get("ci")
            rows.append(
                [
                    labels.get(key, key),
                    str(entry["rank"]),
                    entry["system"],
                    format_value(entry["value"], entry.get("resolution", 0.0), digits=4),
                    "" if ci is None else _interval(ci, entry.get("resolution", 0.0)),
                    entry["letters"],
                ]
            )
    return rows


HEADER = ["metric", "rank", "system", "value", "CI", "letters"]


def ranking_markdown(ranking: dict[str, list[dict]], labels: dict[str, str]) -> str:
    """The ranking as one Markdown table (systems sharing a letter are not significantly different)."""
    lines = ["| " + " | ".join(HEADER) + " |", "|" + "---|" * len(HEADER)]
    lines += ["| " + " | ".join(row) + " |" for row in ranking_rows(ranking, labels)]
    return "\n".join(lines) + "\n"


def ranking_csv(ranking: dict[str, list[dict]]) -> str:
    """The ranking as CSV text, one row per metric entry and system, numbers at full precision."""
    rows: list[list] = [["metric", "rank", "system", "value", "ci_low", "ci_high", "letters"]]
    for key, entries in ranking.items():
        for e in entries:
            ci = e.get("ci") or ["", ""]
            rows.append([key, e["rank"], e["system"], e["value"], *ci, e["letters"]])
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerows(rows)
    return buffer.getvalue()


__all__ = ["letters", "ranking_csv", "ranking_markdown", "ranking_rows"]
