"""House style that a reader cannot see at a call site: constructors of more than four parameters are
keyword-only (``@dataclass(kw_only=True)``, or ``*`` in ``__init__``), so no call depends on field order; no
function is over 60 lines."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MOST_POSITIONAL = 4


def _dataclass_kw_only(cls: ast.ClassDef) -> bool | None:
    """``None`` if ``cls`` is no dataclass, else whether its decorator says ``kw_only=True``."""
    for dec in cls.decorator_list:
        func = dec.func if isinstance(dec, ast.Call) else dec
        name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", None)
        if name == "dataclass":
            keywords = dec.keywords if isinstance(dec, ast.Call) else []
            return any(k.arg == "kw_only" and getattr(k.value, "value", None) is True for k in keywords)
    return None


def _positional_fields(cls: ast.ClassDef) -> list[str]:
    """The fields a dataclass's ``__init__`` takes by position (before ``KW_ONLY``, not ``init=False``/kw-only)."""
    names = []
    for node in cls.body:
        if not (isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name)):
            continue
        annotation = ast.unparse(node.annotation)
        if "KW_ONLY" in annotation:
            break
        if "ClassVar" in annotation:
            continue
        options = node.value.keywords if isinstance(node.value, ast.Call) else []  # field(...)
        flags = {k.arg: getattr(k.value, "value", None) for k in options}
        if flags.get("init") is False or flags.get("kw_only") is True:
            continue
        names.append(node.target.id)
    return names


def positional_constructors(source: str) -> list[tuple[int, str, int]]:
    """``(line, class, positional parameters)`` for each class of ``source`` taking more than four by position."""
    found = []
    for cls in (n for n in ast.walk(ast.parse(source)) if isinstance(n, ast.ClassDef)):
        if _dataclass_kw_only(cls) is False and len(fields := _positional_fields(cls)) > MOST_POSITIONAL:
            found.append((cls.lineno, cls.name, len(fields)))
        for init in (f for f in cls.body if isinstance(f, ast.FunctionDef) and f.name == "__init__"):
            count = len(init.args.posonlyargs) + len(init.args.args) - 1  # without self
            if count > MOST_POSITIONAL:
                found.append((cls.lineno, cls.name, count))
    return found


def test_constructors_of_more_than_four_parameters_are_keyword_only() -> None:
    wrong = [
        f"{path.relative_to(ROOT)}:{line} {name} takes {count} parameters by position"
        for top in ("audiometric", "corruptions")
        for path in sorted((ROOT / top).rglob("*.py"))
        for line, name, count in positional_constructors(path.read_text(encoding="utf-8"))
    ]
    assert not wrong, "make these keyword-only (@dataclass(kw_only=True) or *):\n" + "\n".join(wrong)


def test_the_scan_sees_each_kind_of_constructor() -> None:
    source = """
from dataclasses import KW_ONLY, dataclass, field

@dataclass
class Five:
    a: int
    b: int
    c: int
    d: int
    e: int = 0

@dataclass(frozen=True)
class FourAndDerived:
    a: int
    b: int
    c: int
    d: int
    e: int = field(init=False)
    f: int = field(default=0, kw_only=True)

@dataclass
class Marker:
    a: int
    _: KW_ONLY
    b: int
    c: int
    d: int
    e: int

@dataclass(kw_only=True)
class Keywords:
    a: int
    b: int
    c: int
    d: int
    e: int

class Init:
    def __init__(self, a, b, c, d, e=0):
        pass

class Starred:
    def __init__(self, a, b, *, c, d, e):
        pass
"""
    assert [(name, count) for _, name, count in positional_constructors(source)] == [("Five", 5), ("Init", 5)]


MOST_LINES = 60


def long_functions(source: str) -> list[tuple[int, str, int]]:
    """``(line, function, lines)`` for each function of ``source`` over :data:`MOST_LINES` lines, counted from
    its ``def`` to its last line (signature included, decorators and the docstring not)."""
    found = []
    for func in (n for n in ast.walk(ast.parse(source)) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))):
        lines = func.end_lineno - func.lineno + 1
        first = func.body[0]
        if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant) and isinstance(first.value.value, str):
            lines -= first.end_lineno - first.lineno + 1
        if lines > MOST_LINES:
            found.append((func.lineno, func.name, lines))
    return found


def test_no_function_is_over_sixty_lines() -> None:
    wrong = [
        f"{path.relative_to(ROOT)}:{line} {name} has {count} lines"
        for top in ("audiometric", "corruptions", "experiments")
        for path in sorted((ROOT / top).rglob("*.py"))
        for line, name, count in long_functions(path.read_text(encoding="utf-8"))
    ]
    assert not wrong, f"split these under {MOST_LINES} lines:\n" + "\n".join(wrong)


def test_the_line_count_leaves_out_decorators_and_the_docstring() -> None:
    body = [f"    x{i} = {i}\n" for i in range(MOST_LINES)]
    doc = '    """Doc\n\n    more.\n    """\n'
    # two decorators, a signature of 2 lines, a docstring of 4 and a body of 58: 60 lines counted
    fits = "@decorator\n@decorator\ndef fits(a,\n         b):\n" + doc + "".join(body[:-2])
    over = "def over(a,\n         b):\n" + doc + "".join(body[:-1])
    inner = "".join("    " + line for line in body)
    nested = f"def outer():\n    async def inner():\n{inner}    return inner\n"
    assert long_functions(fits) == []
    assert long_functions(over) == [(1, "over", MOST_LINES + 1)]
    assert long_functions(nested) == [(1, "outer", MOST_LINES + 3), (2, "inner", MOST_LINES + 1)]
