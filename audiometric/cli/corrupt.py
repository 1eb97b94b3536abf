"""``audiometric corrupt IN_DIR OUT_DIR``: parse options and call :mod:`audiometric.corrupt.folder`."""

from __future__ import annotations

import click

from audiometric.cli.options import corruption_param_option, overwrite_option
from audiometric.errors import AudiometricError


def _listing() -> str:
    import corruptions
    from corruptions.event_permutation import COMPOSE_PARAMS

    blocks = [corruptions.get(name).describe() for name in corruptions.names()]
    blocks.append(
        "--compose (POOL REF_DIR: write a reference set of composed clips for event_permutation)\n"
        + "\n".join(f"  --param {p.describe()}" for p in COMPOSE_PARAMS)
    )
    return "\n\n".join(blocks)


_EXAMPLES = """\b
Examples:
  audiometric corrupt ref/ noisy/ -c gaussian_noise -s 0.1          # 10 dB SNR white noise
  audiometric corrupt ref/ masked/ -c mel_mask -s 0.25 -p mode=time  # mask 25 % of the frames
  audiometric corrupt ref/ mixed/ -c interference -s 2 --pool events/ --target-label dog
"""


@click.command("corrupt", epilog=_EXAMPLES)
@click.argument("in_dir", required=False, type=click.Path(), metavar="IN_DIR")
@click.argument("out_dir", required=False, type=click.Path())
@click.option("--corruption", "-c", metavar="NAME", help="Registered corruption (see --list).")
@click.option("--severity", "-s", type=float, help="Severity in the corruption's unit (0 = unchanged).")
@click.option(
    "--seed", default=0, show_default=True, type=int, help="Run seed; each file's draws derive from (seed, name)."
)
@corruption_param_option("Corruption (or --compose) parameter, repeatable; see --list.")
@click.option(
    "--pool",
    type=click.Path(exists=True),
    help="Labelled clips: a folder per class or a path,label CSV (interference; optional for event_permutation).",
)
@click.option(
    "--labels",
    type=click.Path(exists=True, dir_okay=False),
    help="CSV path,label giving each IN_DIR file's class (interference).",
)
@click.option("--target-label", help="Class of every IN_DIR file (interference), when not in --labels or folders.")
@click.option(
    "--compose",
    is_flag=True,
    help="Write composed reference clips: IN_DIR is an event pool (a folder per class or a path,label "
    "CSV), OUT_DIR the reference set for event_permutation.",
)
@click.option(
    "--strict",
    is_flag=True,
    help="Decode every input first and stop, writing nothing, at an unusable file (default: skip it, warn, "
    "list it in manifest.json under skipped).",
)
@click.option("--list", "show_list", is_flag=True, help="Show the corruptions with their parameters and exit.")
@click.option("--no-progress", is_flag=True, help="No progress bar.")
@overwrite_option
def corrupt(
    in_dir,
    out_dir,
    corruption,
    severity,
    seed,
    params,
    pool,
    labels,
    target_label,
    compose,
    strict,
    show_list,
    no_progress,
    overwrite,
):
    """Write a corrupted copy of IN_DIR to OUT_DIR (same relative names, as float32 WAV, plus manifest.json).

    IN_DIR is walked recursively; `audiometric score` ignores the manifest.json written here.
    """
    if show_list:
        click.echo(_listing())
        return
    from audiometric.corrupt.compose import compose_set
    from audiometric.corrupt.folder import corrupt_set

    if in_dir is None or out_dir is None:
        raise AudiometricError("give IN_DIR and OUT_DIR (or --list)")
    if compose:
        _check_compose_flags(
            {
                "--corruption": corruption,
                "--severity": severity,
                "--pool": pool,
                "--labels": labels,
                "--target-label": target_label,
                "--strict": strict or None,
            }
        )
        manifest = compose_set(in_dir, out_dir, seed=seed, params=params, progress=not no_progress, overwrite=overwrite)
    else:
        if corruption is None or severity is None:
            raise AudiometricError("give --corruption NAME and --severity S (see --list)")
        manifest = corrupt_set(
            in_dir,
            out_dir,
            corruption,
            severity,
            seed=seed,
            params=params,
            pool=pool,
            labels=labels,
            target_label=target_label,
            progress=not no_progress,
            overwrite=overwrite,
            strict=strict,
        )
    _report(manifest, out_dir)


def _check_compose_flags(given: dict[str, object]) -> None:
    """One line for the first flag (name -> value, ``None`` when not given) that ``--compose`` does not take."""
    for flag, value in given.items():
        if value is not None:
            raise AudiometricError(f"{flag}: --compose takes no {flag} (IN_DIR is the event pool); drop it")


def _report(manifest: dict, out_dir: str) -> None:
    """What was written, and on stderr what was skipped; what IN_DIR held that is not audio."""
    click.echo(f"wrote {len(manifest['files'])} files and manifest.json to {out_dir}")
    skipped = manifest.get("skipped", [])
    if skipped:
        click.echo(
            f"skipped {len(skipped)} unusable file(s) (named above, listed in manifest.json under skipped); "
            "fix them and run the same command again to add them",
            err=True,
        )
    passed = manifest.get("passed_over", [])
    if passed:
        shown = ", ".join(f"{e['name']} ({e['reason']})" for e in passed[:3])
        click.echo(
            f"not corrupted: {len(passed)} other entr{'y' if len(passed) == 1 else 'ies'} in IN_DIR: {shown}"
            f"{', ...' if len(passed) > 3 else ''} (listed in manifest.json under passed_over)"
        )
