"""Prompt files for ``generate --prompts``: one prompt per line, or a CSV with ``name`` and ``prompt`` columns.

Every problem is one line naming the file, the row (1-based line number in the file) and the fix.
"""

from __future__ import annotations

from pathlib import Path

from audiometric.errors import AudiometricError

#: The columns a prompts CSV needs.
COLUMNS = ("name", "prompt")


def read_prompts(path: str | Path) -> list[tuple[str, str]]:
    """``(name, prompt)`` per prompt: a text file's lines are named 00000, 00001, ... (blank lines skipped)."""
    path = Path(path)
    where = f"--prompts {path}"
    if not path.is_file():
        raise AudiometricError(f"{where}: file not found; give a text file (one prompt per line) or a name,prompt CSV")
    try:
        text = path.read_text(encoding="utf-8-sig")  # a spreadsheet's byte-order mark is dropped
    except UnicodeDecodeError:
        raise AudiometricError(f"{where}: not UTF-8 text; save it as UTF-8") from None
    if path.suffix.lower() == ".csv":
        rows = _csv_rows(text, where)
    else:
        lines = [(number, line.strip()) for number, line in enumerate(text.splitlines(), start=1) if line.strip()]
        rows = [(number, f"{i:05d}", prompt) for i, (number, prompt) in enumerate(lines)]
    if not rows:
        raise AudiometricError(f"{where}: no prompts in the file; write one prompt per line")
    seen: dict[str, int] = {}
    for number, name, prompt in rows:
        problem = _problem(name, prompt, seen)
        if problem:
            raise AudiometricError(
                f"{where}: row {number}: {problem}; give every row a unique name without '/' and a prompt"
            )
        seen[name] = number
    return [(name, prompt) for _, name, prompt in rows]


def _problem(name: str, prompt: str, seen: dict[str, int]) -> str | None:
    """What is wrong with a row named ``name`` (``seen``: earlier names and their rows), or None."""
    if not name:
        return "empty name"
    if "/" in name:
        return f"the name {name!r} contains '/'"
    if name in seen:
        return f"the name {name!r} repeats row {seen[name]}"
    return None if prompt else "empty prompt"


def _csv_rows(text: str, where: str) -> list[tuple[int, str, str]]:
    """``(line number, name, prompt)`` of each non-blank CSV row; the header must hold name and prompt."""
    from audiometric.scoring.captions import csv_with_columns

    reader = csv_with_columns(text, where, COLUMNS)
    rows = []
    for row in reader:
        if any((value or "").strip() for key, value in row.items() if key is not None):
            rows.append((reader.line_num, (row["name"] or "").strip(), (row["prompt"] or "").strip()))
    return rows
