"""What a sweep is: the corruption, its severity axis, protocol, metrics and backbones, from flags or YAML.

Nothing here runs a backbone or reads audio: :func:`make_spec` checks every option it can check from the
options alone (names, levels against the corruption's range, protocol) and raises one-line
:class:`~audiometric.errors.AudiometricError` naming the option and the fix.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from audiometric.corrupt.options import check_taken
from audiometric.errors import AudiometricError
from audiometric.metrics import parse_requests
from audiometric.runtime.config import read_options
from audiometric.scoring.captions import check_captions
from corruptions.registry import REGISTRY, Corruption, short_names

T = TypeVar("T")

#: The paper's short names (and hyphenated spellings) for the registry's corruptions, from their entries.
ALIASES: dict[str, str] = short_names()

PROTOCOLS = ("split", "paired")


@dataclass(kw_only=True, frozen=True)
class Scale:
    """A corruption's severity axis: default levels, valid range (inclusive), integer counts, SNR display."""

    levels: tuple[float, ...]
    low: float
    high: float
    label: str
    integer: bool = False
    snr: bool = False  # severity is a noise-to-signal power ratio: show -10 log10(s) dB on a second axis


def _scale(entry: Corruption) -> Scale:
    """The sweep's view of a corruption's severity axis: every value from its registry entry."""
    low, high = entry.severity.bounds or (0.0, float("inf"))
    return Scale(
        levels=entry.levels, low=low, high=high, label=entry.axis, integer=entry.severity.type is int, snr=entry.snr
    )


#: Severity axes by corruption, derived from the ``corruptions`` registry (levels, bounds, labels).
SCALES: dict[str, Scale] = {name: _scale(entry) for name, entry in REGISTRY.items()}

#: Options a YAML config may hold (the flags' names with ``_`` for ``-``).
CONFIG_KEYS = (
    "corruption",
    "ref",
    "out",
    "pool",
    "labels",
    "levels",
    "metrics",
    "backbone",
    "fad_backbone",
    "seeds",
    "bootstrap",
    "confidence",
    "protocol",
    "params",
    "keep_audio",
    "pdf",
    "prompts",
    "device",
    "batch_size",
    "workers",
)


def required(value: T | None, option: str) -> T:
    """``value`` of an option the spec's checks require for this corruption (one-line error if absent)."""
    if value is None:
        raise AudiometricError(f"{option} is required for this corruption")
    return value


@dataclass(kw_only=True, frozen=True)
class SweepSpec:
    """One sweep: ``corruption`` (registry name) at ``levels`` x ``seeds`` (0..seeds-1) under ``protocol``."""

    corruption: str
    out: str
    ref: str | None = None
    pool: str | None = None
    labels: str | None = None
    levels: tuple[float, ...] = ()
    metrics: tuple[str, ...] = ("fd", "is", "kl", "fad")
    backbone: str = "panns-cnn14-16k"
    fad_backbone: str = "vggish"
    seeds: int = 3
    bootstrap: int = 0
    confidence: float = 0.95
    protocol: str = "split"
    params: Mapping[str, Any] = field(default_factory=dict)
    keep_audio: bool = False
    pdf: bool = False
    #: captions by clip name (``clap_score``): a ``file,caption`` CSV or generate's manifest
    prompts: str | None = None

    @property
    def scale(self) -> Scale:
        """The severity axis of this sweep's corruption."""
        return SCALES[self.corruption]


def resolve_corruption(name: str) -> str:
    """Registry name for ``name`` (a registry name or one of :data:`ALIASES`)."""
    key = name.strip()
    if key in ALIASES:
        return ALIASES[key]
    if key in SCALES:
        return key
    choices = ", ".join(list(ALIASES) + [n for n in SCALES if n not in ALIASES])
    raise AudiometricError(f"--corruption {name}: unknown; choose one of {choices}")


def parse_list(text: Any, option: str) -> list[str]:
    """``"a,b"`` or a YAML list into stripped strings."""
    items = text if isinstance(text, (list, tuple)) else str(text).split(",")
    out = [str(item).strip() for item in items if str(item).strip()]
    if not out:
        raise AudiometricError(f"--{option}: empty; give a comma-separated list")
    return out


def parse_levels(raw: Any, corruption: str, n_events: int | None = None) -> tuple[float, ...]:
    """Sorted, distinct severities within the corruption's range; 0 (the clean baseline) must be one."""
    scale = SCALES[corruption]
    if raw is None:
        levels = [float(v) for v in scale.levels]
        if n_events is not None:
            levels = [v for v in levels if v <= n_events]
    else:
        try:
            levels = [float(v) for v in parse_list(raw, "levels")]
        except ValueError:
            raise AudiometricError(
                f"--levels {raw}: not a list of numbers; e.g. --levels {_fmt(scale.levels)}"
            ) from None
    high = scale.high if n_events is None else n_events
    for v in levels:
        if not scale.low <= v <= high or (scale.integer and v != int(v)):
            kind = "integers" if scale.integer else "values"
            raise AudiometricError(
                f"--levels: {v:g} is outside {corruption}'s range ({kind} in "
                f"{scale.low:g}..{high:g}); e.g. --levels {_fmt(scale.levels)}"
            )
        if corruption == "event_permutation" and v == 1:
            raise AudiometricError("--levels: event_permutation cannot displace exactly 1 event; use 0, 2, 3, ...")
    levels = sorted(set(levels))
    if levels[0] != 0:
        raise AudiometricError(
            f"--levels: must include 0 (the clean baseline every verdict compares with); e.g. --levels 0,{_fmt(levels)}"
        )
    if len(levels) < 2:
        raise AudiometricError("--levels: give 0 and at least one severity above it")
    return tuple(int(v) if scale.integer else v for v in levels)


def _fmt(levels) -> str:
    return ",".join(f"{v:g}" for v in levels)


def load_config(path: str | Path) -> dict[str, Any]:
    """Options from a YAML file (keys: :data:`CONFIG_KEYS`); one-line errors for bad YAML or keys."""
    return read_options(path, CONFIG_KEYS, f"the valid keys: {', '.join(CONFIG_KEYS)}")


def make_spec(options: Mapping[str, Any]) -> SweepSpec:
    """A checked :class:`SweepSpec` from merged options (config values overridden by flags)."""
    if not options.get("corruption"):
        raise AudiometricError("give --corruption NAME (or a --config with corruption:)")
    if not options.get("out"):
        raise AudiometricError("give --out OUT_DIR (or out: in the --config)")
    corruption = resolve_corruption(str(options["corruption"]))
    params = {str(k): v for k, v in dict(options.get("params") or {}).items()}
    n_events = None
    if corruption == "event_permutation":
        try:
            n_events = int(params.get("n_events", 4))
        except ValueError:
            raise AudiometricError(f"--param n_events={params['n_events']}: expected an integer count") from None
    protocol = str(options.get("protocol") or "split")
    if protocol not in PROTOCOLS:
        raise AudiometricError(f"--protocol {protocol}: choose split or paired")
    if corruption == "event_permutation":
        if not options.get("pool"):
            raise AudiometricError(
                "--corruption permute needs --pool (event clips, a folder per class or a path,label CSV)"
            )
    elif not options.get("ref"):
        raise AudiometricError(f"--corruption {options['corruption']} needs --ref REF_DIR (the clean reference clips)")
    if corruption in ("interference", "interference_fraction") and not options.get("pool"):
        raise AudiometricError(
            f"--corruption {options['corruption']} needs --pool (interferers: a folder per class or a path,label CSV)"
        )
    check_taken(REGISTRY[corruption], {key: _opt(options.get(key[2:])) for key in ("--ref", "--pool", "--labels")})
    metrics = parse_requests(parse_list(options.get("metrics") or "fd,is,kl,fad", "metrics"))  # as score's --metrics
    spec = SweepSpec(
        corruption=corruption,
        out=str(options["out"]),
        ref=_opt(options.get("ref")),
        pool=_opt(options.get("pool")),
        labels=_opt(options.get("labels")),
        levels=parse_levels(options.get("levels"), corruption, n_events),
        metrics=metrics,
        backbone=str(options.get("backbone") or "panns-cnn14-16k"),
        fad_backbone=str(options.get("fad_backbone") or "vggish"),
        seeds=_number(options, "seeds", int, 3),
        bootstrap=_number(options, "bootstrap", int, 0),
        confidence=_number(options, "confidence", float, 0.95),
        protocol=protocol,
        params=params,
        keep_audio=bool(options.get("keep_audio")),
        pdf=bool(options.get("pdf")),
        prompts=_opt(options.get("prompts")),
    )
    check_captions(spec.metrics, spec.prompts)
    if spec.seeds < 1 or spec.bootstrap < 0 or not 0 < spec.confidence < 1:
        raise AudiometricError("--seeds must be >= 1, --bootstrap >= 0 and --confidence in (0, 1)")
    return spec


def _number(options: Mapping[str, Any], key: str, kind: type, default: float) -> Any:
    value = options.get(key)
    if value is None:
        return default
    try:
        return kind(value)
    except (TypeError, ValueError):
        raise AudiometricError(f"--{key.replace('_', '-')} {value}: expected a {kind.__name__}") from None


def _opt(value: Any) -> str | None:
    return None if value in (None, "") else str(value)


def levels_help() -> str:
    """The default levels of every corruption, for ``--help``."""
    names = {v: k for k, v in ALIASES.items()}
    return "; ".join(f"{names.get(c, c)}: {_fmt(s.levels)}" for c, s in SCALES.items())
