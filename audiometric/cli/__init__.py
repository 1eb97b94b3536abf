"""The ``audiometric`` command: a click group whose subcommands only parse options and call the library.

Subcommands are imported only when they run (or when their help is shown), so ``audiometric --help``
and light commands never import torch. Adding a command is one module ``audiometric/cli/<name>.py``
holding a ``click.Command`` and one line in ``COMMANDS`` below: ``"name": "module:attribute"``.
"""

from __future__ import annotations

import ast
import errno
import importlib
import importlib.util
import sys
import warnings
from pathlib import Path

import click

from audiometric._version import __version__
from audiometric.errors import USER_ERRORS, exit_status, one_line
from audiometric.runtime.distributed import abandon, world

#: Subcommand name -> ``"module:attribute"`` of its ``click.Command`` inside this package.
COMMANDS: dict[str, str] = {
    "score": "score:score",
    "embed": "embed:embed",
    "stats": "stats:stats",
    "corrupt": "corrupt:corrupt",
    "generate": "generate:generate",
    "datasets": "datasets:datasets",
    "finetune": "finetune:finetune",
    "sweep": "sweep:sweep",
    "compare": "compare:compare",
    "backbones": "backbones:backbones",
}


class _Group(click.Group):
    """Loads subcommands from :data:`COMMANDS` on demand, and turns :class:`AudiometricError` into one
    line on stderr and exit status 2 (usage) or 1 (data, :func:`~audiometric.errors.exit_status`), never
    a traceback. A file-system error the output checks could not foresee (a folder removed, made
    read-only or filled while running) is shown the same way."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(COMMANDS)

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name not in COMMANDS:
            return None
        module, attribute = COMMANDS[name].split(":")
        return getattr(importlib.import_module(f"{__name__}.{module}"), attribute)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """The command list with each command's first docstring line, read without importing it."""
        rows = [(name, _summary(name)) for name in self.list_commands(ctx)]
        with formatter.section("Commands"):
            formatter.write_dl(rows)

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except USER_ERRORS as err:
            _exit(f"error: {err}", exit_status(err))
        except OSError as err:
            if err.errno not in _FILE_SYSTEM_ERRORS or err.filename is None:
                raise
            fix = "free some space or choose another path" if err.errno == errno.ENOSPC else "check the path"
            _exit(f"error: {one_line(err.strerror or str(err), err.filename, fix)}", 2)
        except KeyboardInterrupt:
            _exit("interrupted: finished clips are cached; run the same command again to resume", 130)
        except click.ClickException as err:  # usage errors: shown once under torchrun, by rank 0
            if world()[0] != 0:
                _exit(None, err.exit_code)
            raise


#: File-system failures the output checks cannot foresee (a folder removed, made read-only or filled while a
#: command runs): shown as one line naming the path, like a user error.
_FILE_SYSTEM_ERRORS = frozenset(
    {errno.EACCES, errno.EPERM, errno.EROFS, errno.ENOSPC, errno.EDQUOT, errno.ENOENT, errno.ENOTDIR, errno.EISDIR}
)


def _exit(message: str | None, status: int) -> None:
    """Print ``message`` on stderr (rank 0 only under ``torchrun``), leave the process group, exit."""
    if message is not None and world()[0] == 0:
        click.echo(message, err=True)
    abandon()
    sys.exit(status)


#: Commands that run the embedding backbones batch after batch on the CPU, where keeping freed memory
#: saves page faults (benchmarks/run.py); generation and training keep the default allocator (their peaks
#: are large, and a retained peak would be held until exit).
RETAIN_MEMORY = frozenset({"score", "embed", "stats", "sweep", "compare"})


def _summary(name: str) -> str:
    """First line of command ``name``'s docstring, read from its source so that listing imports nothing
    (falls back to importing the command when its function is not found there)."""
    module, attribute = COMMANDS[name].split(":")
    spec = importlib.util.find_spec(f"{__name__}.{module}")
    source = Path(spec.origin).read_text(encoding="utf-8") if spec and spec.origin else ""
    for node in ast.parse(source).body:
        if isinstance(node, ast.FunctionDef) and node.name == attribute:  # shortened as click shortens help
            return click.Command(name, help=ast.get_docstring(node) or "").get_short_help_str(60)
    command: click.Command = getattr(importlib.import_module(f"{__name__}.{module}"), attribute)
    return command.get_short_help_str(60)


def _show_warning(message, category, filename, lineno, file=None, line=None) -> None:
    click.echo(f"warning: {message}", err=True)


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="audiometric")
@click.pass_context
def main(ctx: click.Context) -> None:
    """Score generated audio against reference audio, and study how trustworthy the scores are."""
    from audiometric.runtime.malloc import retain_freed_memory

    warnings.showwarning = _show_warning
    if ctx.invoked_subcommand in RETAIN_MEMORY:
        retain_freed_memory()
