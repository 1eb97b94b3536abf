"""Every Python snippet in README.md and docs/*.md runs as written, or says why it is not run here.

A fenced ``python`` block runs in a temporary folder holding the bundled example (``examples/data``).
An HTML comment on the line before it changes that: ``<!-- not-run: REASON -->`` (then only its imports
run, so a renamed API still fails) or ``<!-- tested: tests/FILE.py::TEST -->`` (a named test runs it).
"""

from __future__ import annotations

import ast
import importlib.util
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
BLOCK = re.compile(r"(?:^(<!--[^\n]*-->)\n)?^```python\n(.*?)^```", re.S | re.M)
MARK = re.compile(r"<!-- (not-run|tested): (.+?) -->")


def snippets() -> list[tuple[str, str, str]]:
    """``(where, mark, code)`` for each python block: ``where`` is ``file:line``, ``mark`` its comment or ""."""
    found = []
    for path in DOCS:
        text = path.read_text(encoding="utf-8")
        for match in BLOCK.finditer(text):
            line = text.count("\n", 0, match.start(2))
            found.append((f"{path.relative_to(ROOT)}:{line}", match.group(1) or "", match.group(2)))
    return found


@pytest.fixture(scope="module")
def example(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder holding the bundled example under ``examples/data`` (as after ``make_example.py``)."""
    folder = tmp_path_factory.mktemp("docs")
    spec = importlib.util.spec_from_file_location("make_example", ROOT / "examples" / "make_example.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.main(folder / "examples" / "data")
    return folder


def test_the_docs_have_snippets_and_every_mark_is_well_formed() -> None:
    found = snippets()
    assert len(found) >= 3, found
    for where, mark, _ in found:
        assert not mark or MARK.fullmatch(mark), f"{where}: unknown mark {mark!r}"


@pytest.mark.parametrize("where,mark,code", snippets(), ids=[s[0] for s in snippets()])
def test_snippet(where: str, mark: str, code: str, example: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    kind, detail = MARK.fullmatch(mark).groups() if mark else ("run", "")
    tree = ast.parse(code, where)  # every block at least parses
    if kind == "tested":
        file, _, name = detail.partition("::")
        assert f"def {name}(" in (ROOT / file).read_text(encoding="utf-8"), f"{where}: {detail} does not exist"
        return
    if kind == "not-run":
        assert len(detail) > 20, f"{where}: give the reason it is not run"
        tree.body = [node for node in tree.body if isinstance(node, ast.Import | ast.ImportFrom)]
    monkeypatch.chdir(example)
    exec(compile(tree, where, "exec"), {"__name__": "snippet"})


def test_table1_help_shows_the_whole_description(capsys: pytest.CaptureFixture[str]) -> None:
    spec = importlib.util.spec_from_file_location("table1", ROOT / "experiments" / "table1.py")
    assert spec is not None and spec.loader is not None
    table1 = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(table1)
    with pytest.raises(SystemExit) as done:
        table1.main(["--help"])
    assert done.value.code == 0
    text = " ".join(capsys.readouterr().out.split())
    assert "export the reference, generate, score, and assemble the table" in text
    assert "an interrupted run continues where it stopped" in text
