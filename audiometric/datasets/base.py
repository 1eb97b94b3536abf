"""What every dataset loader shares: the clip record, CSV reading with clear errors, prompts, subsets."""

from __future__ import annotations

import csv
import warnings
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from audiometric.errors import AudiometricError


@dataclass(kw_only=True, frozen=True)
class Item:
    """One reference clip: ``clip_id`` names the generated and exported files (``{clip_id}.wav``)."""

    clip_id: str
    path: Path
    prompt: str
    label: str
    split: str


@dataclass(kw_only=True, frozen=True)
class DatasetSpec:
    """A registered dataset: its layout, splits and loader.

    ``items(data_dir, split="test", eval_size=None, seed=0, prompt_template=None, captions=None,
    skip_missing=False, missing=None, **options) -> list[Item]``; ``missing``, when a list, receives the
    paths skipped because their audio file is absent.
    """

    name: str
    title: str
    layout: str  # the files expected under --data-dir, for --list and error messages
    splits: str  # the split names accepted and the default partition
    default_split: str
    load: Callable[..., list[Item]]
    options: tuple[str, ...] = field(default=())

    def items(
        self,
        data_dir: str | Path,
        split: str | None = None,
        eval_size: int | None = None,
        seed: int = 0,
        prompt_template: str | None = None,
        captions: dict[str, str] | None = None,
        skip_missing: bool = False,
        missing: list[Path] | None = None,
        **options,
    ) -> list[Item]:
        """The clips of ``split`` (default: :attr:`default_split`), as :class:`Item`, in dataset order."""
        unknown = sorted(set(options) - set(self.options))
        if unknown:
            accepted = ", ".join(self.options) or "none"
            raise AudiometricError(f"dataset {self.name} takes no option {unknown[0]!r} (accepted: {accepted})")
        data_dir = Path(data_dir).expanduser()
        if not data_dir.exists():
            raise AudiometricError(
                f"--data-dir {data_dir}: no such file or folder (dataset {self.name} expects {self.layout})"
            )
        rows = self.load(data_dir, split or self.default_split, **{k: v for k, v in options.items() if v is not None})
        rows = [_with_prompt(item, prompt_template, captions) for item in rows]
        return finish(rows, self.name, split or self.default_split, eval_size, seed, skip_missing, missing)


def read_csv(path: Path, columns: Iterable[str], dataset: str, comment: str | None = None) -> list[dict[str, str]]:
    """Rows of the CSV at ``path`` as dicts; a clear error when the file or one of ``columns`` is missing."""
    if not path.is_file():
        raise AudiometricError(
            f"dataset {dataset}: metadata file {path} not found; point --data-dir at the dataset's root folder"
        )
    # utf-8-sig: the byte-order mark a spreadsheet writes before the header is dropped
    with open(path, newline="", encoding="utf-8-sig") as handle:
        lines = (line for line in handle if not (comment and line.lstrip().startswith(comment)))
        reader = csv.DictReader(lines, skipinitialspace=True)
        header = [name.strip() for name in (reader.fieldnames or [])]
        absent = [name for name in columns if name not in header]
        if absent:
            raise AudiometricError(
                f"dataset {dataset}: {path} lacks the column(s) {', '.join(absent)}: expected the columns "
                f"{', '.join(columns)}, found {', '.join(header) or 'none'}; fix its header row or --dataset"
            )
        return [{key.strip(): (value or "").strip() for key, value in row.items() if key is not None} for row in reader]


def fold_of(row: dict[str, str], path: Path, dataset: str) -> int:
    """The row's integer ``fold`` column, or a one-line error naming the file and the value."""
    try:
        return int(row["fold"])
    except ValueError:
        raise AudiometricError(f"dataset {dataset}: {path} has the fold {row['fold']!r}, not an integer") from None


def label_prompt(label: str) -> str:
    """A class name as a prompt: underscores become spaces (``dog_bark`` -> ``dog bark``)."""
    return " ".join(label.replace("_", " ").split())


def _with_prompt(item: Item, template: str | None, captions: dict[str, str] | None) -> Item:
    """Apply a caption map (keyed by clip id, then label) and a ``{label}``/``{caption}`` template."""
    prompt = item.prompt
    if captions:
        prompt = captions.get(item.clip_id, captions.get(item.label, prompt))
    elif template:
        try:
            prompt = template.format(label=label_prompt(item.label), caption=item.prompt)
        except (KeyError, IndexError, ValueError) as err:
            raise AudiometricError(
                f"--prompt-template {template!r}: use only {{label}} and {{caption}} ({err})"
            ) from None
    return Item(clip_id=item.clip_id, path=item.path, prompt=prompt, label=item.label, split=item.split)


def subset(items: list[Item], eval_size: int | None, seed: int) -> list[Item]:
    """A seeded random subset of ``eval_size`` items, kept in dataset order (all of them when None)."""
    if eval_size is None or eval_size >= len(items):
        return items
    keep = np.sort(np.random.default_rng(seed).choice(len(items), size=eval_size, replace=False))
    return [items[i] for i in keep]


def finish(
    items: list[Item],
    dataset: str,
    split: str,
    eval_size: int | None,
    seed: int,
    skip_missing: bool,
    missing: list[Path] | None,
) -> list[Item]:
    """Check ids are unique and files exist (or skip them), then take the seeded subset."""
    seen: dict[str, Path] = {}
    for item in items:
        if item.clip_id in seen and seen[item.clip_id] != item.path:
            raise AudiometricError(
                f"dataset {dataset}: two clips share the name {item.clip_id!r} "
                f"({seen[item.clip_id]} and {item.path}); generated files could not be paired"
            )
        seen[item.clip_id] = item.path
    if eval_size is not None and eval_size < 1:
        raise AudiometricError(f"--eval-size {eval_size}: must be at least 1")
    absent = [item for item in items if not item.path.is_file()]
    if absent and not skip_missing:
        raise AudiometricError(
            f"dataset {dataset}: audio file {absent[0].path} not found ({len(absent)} of "
            f"{len(items)} clips in split {split!r} missing); fix --data-dir or pass "
            f"--skip-missing to leave them out"
        )
    if absent:
        warnings.warn(
            f"dataset {dataset}: skipping {len(absent)} clips whose audio is missing (first: {absent[0].path})",
            stacklevel=3,
        )
        if missing is not None:
            missing.extend(item.path for item in absent)
        items = [item for item in items if item.path.is_file()]
    if not items:
        raise AudiometricError(f"dataset {dataset}: no clips in split {split!r}; check --split and --data-dir")
    if eval_size is not None and eval_size > len(items):
        raise AudiometricError(
            f"--eval-size {eval_size}: split {split!r} of {dataset} has only {len(items)} clips; "
            f"lower --eval-size or choose a larger --split"
        )
    return subset(items, eval_size, seed)


def folds(split: str, dataset: str, count: int, test_fold: int) -> set[int]:
    """Folds selected by ``split``: train (all but ``test_fold``), test, all, or foldN / foldN,M."""
    if split == "train":
        return set(range(1, count + 1)) - {test_fold}
    if split == "test":
        return {test_fold}
    if split == "all":
        return set(range(1, count + 1))
    if split.startswith("fold"):
        try:
            chosen = {int(part) for part in split[4:].split(",")}
        except ValueError:
            chosen = set()
        if chosen and chosen <= set(range(1, count + 1)):
            return chosen
    raise AudiometricError(
        f"--split {split!r}: dataset {dataset} has train, test, all or fold1..fold{count} (e.g. fold3 or fold1,2)"
    )
