"""The corruption registry: each entry is a :class:`Corruption` with its parameter documentation.

Protocol (every entry's ``apply``)::

    apply(audio, sample_rate, rng, severity, **params) -> (audio, record)

``audio`` is float32 ``(channels, samples)`` (mono ``(samples,)`` accepted and returned as mono),
``sample_rate`` in Hz, ``rng`` an explicit ``np.random.Generator`` (the only source of randomness),
``severity`` in the unit that the entry documents (``severity == 0`` returns the input unchanged,
bit-exact), and ``record`` a JSON-able dict of everything drawn. Set-level entries also carry
``select(names, severity, rng) -> set of names``, which picks the clips of a set that ``apply`` corrupts.

Adding a corruption is one module in this package that defines ``CORRUPTION = Corruption(...)`` and
one line (its module name) in ``MODULES`` below.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from .errors import CorruptionError

MODULES: tuple[str, ...] = (
    "gaussian_noise",
    "mel_noise",
    "mel_mask",
    "interference",
    "interference_fraction",
    "event_permutation",
)


@dataclass(kw_only=True, frozen=True)
class Param:
    """One parameter: name, unit (dB, fraction, count, s, Hz, samples, ...), default, valid range, meaning."""

    name: str
    unit: str
    default: Any
    range: str
    doc: str
    type: type = float
    choices: tuple[str, ...] = ()
    #: inclusive ``(low, high)`` a value must lie in; ``range`` then only adds a note
    bounds: tuple[float, float] | None = None

    def parse(self, text: str) -> Any:
        """Convert a command-line string to this parameter's type (``CorruptionError`` if it does not fit)."""
        if self.choices:
            if text not in self.choices:
                raise CorruptionError(f"--param {self.name}={text}: choose one of {', '.join(self.choices)}")
            return text
        try:
            return self.type(text)
        except ValueError:
            raise CorruptionError(
                f"--param {self.name}={text}: expected a {self.type.__name__} ({self.unit})"
            ) from None

    def describe(self) -> str:
        """One line for ``audiometric corrupt --list``."""
        default = "required" if self.default is None else repr(self.default)
        return f"{self.name} [{self.unit}; {self.span()}; default {default}]: {self.doc}"

    def span(self) -> str:
        """The valid values as text: the bounds (``[0, 1]``, ``0..10`` for counts) and any note."""
        if self.bounds is None:
            return self.range
        low, high = self.bounds
        text = f"{low:g}..{high:g}" if self.type is int else f"[{low:g}, {high:g}]"
        return f"{text} ({self.range})" if self.range else text

    def check(self, value: float, name: str, high: float | None = None) -> float:
        """``value`` as float inside the bounds (``high`` may lower the top), else :class:`CorruptionError`."""
        v = float(value)
        low, top = self.bounds if self.bounds is not None else (-np.inf, np.inf)
        top = top if high is None else min(top, high)
        if not low <= v <= top:
            raise CorruptionError(f"{name}: severity must be in [{low:g}, {top:g}], got {value}")
        return v


@dataclass(kw_only=True, frozen=True)
class Corruption:
    """A registered corruption: its function, severity, other parameters and (set-level) clip selector."""

    name: str
    summary: str
    apply: Callable[..., tuple[np.ndarray, dict]]
    severity: Param
    params: tuple[Param, ...] = ()
    inputs: tuple[Param, ...] = ()
    select: Callable[[Sequence[str], float, np.random.Generator], set[str]] | None = None
    #: the sweep's default severity levels, and the label of its severity axis
    levels: tuple[float, ...] = ()
    axis: str = ""
    #: severity is a noise-to-signal power ratio (figures show -10 log10(s) dB beside it)
    snr: bool = False
    #: the paper's short name (``noise``), accepted wherever the registry name is; default: hyphenated name
    alias: str = ""

    @property
    def short(self) -> str:
        """The short name the commands also accept (``alias``, else the name with hyphens)."""
        return self.alias or self.name.replace("_", "-")

    def check(self, severity: float, high: float | None = None) -> float:
        """``severity`` inside this corruption's bounds (``high`` may lower the top for this input)."""
        return self.severity.check(severity, self.name, high)

    def defaults(self) -> dict[str, Any]:
        """Every parameter's default value."""
        return {p.name: p.default for p in self.params}

    def describe(self) -> str:
        """Multi-line description for ``audiometric corrupt --list``."""
        short = f" (also `{self.short}`)" if self.short != self.name else ""
        lines = [f"{self.name}{short}{' (set-level)' if self.select else ''}: {self.summary}"]
        levels = ", ".join(f"{v:g}" for v in self.levels)
        lines.append(
            f"  severity [{self.severity.unit}; {self.severity.span()}; sweep levels {levels}]: {self.severity.doc}"
        )
        lines += [f"  --param {p.describe()}" for p in self.params]
        lines += [f"  input {p.describe()}" for p in self.inputs]
        return "\n".join(lines)


def _load() -> dict[str, Corruption]:
    entries = [importlib.import_module(f"{__package__}.{m}").CORRUPTION for m in MODULES]
    return {c.name: c for c in entries}


REGISTRY: dict[str, Corruption] = _load()


def names() -> list[str]:
    """Registered corruption names, sorted."""
    return sorted(REGISTRY)


def short_names() -> dict[str, str]:
    """Each entry's short name (``noise``, ``mask``, ``mel-noise``) mapped to its registry name."""
    return {c.short: c.name for c in REGISTRY.values()}


def get(name: str) -> Corruption:
    """The registry entry ``name`` or short name (``CorruptionError`` listing the valid names otherwise)."""
    key = short_names().get(name, name)
    if key not in REGISTRY:
        shown = ", ".join(f"{c.name} ({c.short})" if c.short != c.name else c.name for c in REGISTRY.values())
        raise CorruptionError(f"unknown corruption '{name}'; choose one of: {shown}")
    return REGISTRY[key]
