"""``audiometric embed DIR -o OUT.npz``: parse options and call :func:`audiometric.api.embed`."""

from __future__ import annotations

import json

import click

from .options import backbone_choice, extraction_kwargs, extraction_options


@click.command("embed")
@click.argument("folder", type=click.Path())
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False), help="The .npz to write.")
@click.option("--backbone", "names", type=backbone_choice, multiple=True, default=("panns-cnn14-16k",),
              show_default=True, help="Backbone to run (repeatable).")
@click.option("--strict", is_flag=True, help="Fail on the first unusable file instead of skipping it.")
@extraction_options
def embed(folder, output, names, strict, **extraction):
    """Export per-file embeddings/logits of the audio files in FOLDER, with file names, to one .npz."""
    from ..api import embed as run
    from ..export import output_keys

    arrays = run(folder, output, names, strict=strict, **extraction_kwargs(**extraction))
    click.echo(f"wrote {output}: {len(arrays['names'])} clips, outputs {', '.join(output_keys(arrays))}")
    for skip in json.loads(str(arrays["meta"]))["skipped"]:
        click.echo(f"skipped: {skip['file']}: {skip['reason']}")
