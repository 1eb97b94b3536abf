"""The ``audiometric`` command: a click group whose subcommands only parse options and call the library."""

from __future__ import annotations

import sys
import warnings

import click

from .. import __version__
from ..errors import AudiometricError
from ..memory import retain_freed_memory


class _Group(click.Group):
    """Turns :class:`AudiometricError` into one line on stderr and exit status 2, never a traceback."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except AudiometricError as err:
            click.echo(f"error: {err}", err=True)
            sys.exit(2)
        except KeyboardInterrupt:
            click.echo("interrupted: finished clips are cached; run the same command again to resume", err=True)
            sys.exit(130)


def _show_warning(message, category, filename, lineno, file=None, line=None) -> None:
    click.echo(f"warning: {message}", err=True)


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="audiometric")
def main() -> None:
    """Score generated audio against reference audio, and study how trustworthy the scores are."""
    warnings.showwarning = _show_warning
    retain_freed_memory()


def _register() -> None:
    from .corrupt import corrupt
    from .embed import embed
    from .score import score
    from .stats import stats
    from .sweep import sweep

    for command in (score, embed, stats, corrupt, sweep):
        main.add_command(command)


_register()
