"""``audiometric embed DIR -o OUT.npz``: parse options and call :func:`audiometric.api.embed`."""

from __future__ import annotations

import json

import click

from audiometric.cli.options import (
    backbone_choice,
    backbone_param_option,
    extraction_kwargs,
    extraction_options,
    overwrite_option,
    strict_option,
)

EXAMPLES = """Examples:

\b
  audiometric embed generated/ -o generated.npz
  audiometric embed generated/ -o both.npz --backbone panns-cnn14-16k --backbone vggish
  torchrun --nproc_per_node 2 -m audiometric embed generated/ -o generated.npz --device cuda
"""


@click.command("embed", epilog=EXAMPLES)
@click.argument("folder", type=click.Path())
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False), help="The .npz to write.")
@click.option(
    "--backbone",
    "names",
    type=backbone_choice,
    multiple=True,
    default=("panns-cnn14-16k",),
    show_default=True,
    help="Backbone to run (repeatable).",
)
@strict_option
@overwrite_option
@extraction_options
@backbone_param_option
def embed(folder, output, names, strict, overwrite, **extraction):
    """Export per-file embeddings/logits of the audio files in FOLDER, with file names, to one .npz.

    Layout (README, "Embedding files"): names, paths, sha256, sample_rates, channels, seconds per clip;
    "BACKBONE:OUTPUT" rows of all clips concatenated and "BACKBONE:OUTPUT:offsets" so clip i is
    rows[offsets[i]:offsets[i+1]]; meta (JSON). `score` takes the file for either side. Under torchrun
    each rank embeds a share of the files and rank 0 writes the file.
    """
    from audiometric.api import embed as run
    from audiometric.runtime.outputs import check_file
    from audiometric.scoring.export import output_keys

    check_file(output, "npz", flag="-o", inputs=(folder,), overwrite=overwrite)
    arrays = run(folder, output, names, strict=strict, overwrite=overwrite, **extraction_kwargs(**extraction))
    if arrays is None:  # a non-zero torchrun rank: rank 0 reports
        return
    click.echo(f"wrote {output}: {len(arrays['names'])} clips, outputs {', '.join(output_keys(arrays))}")
    for skip in json.loads(str(arrays["meta"]))["skipped"]:
        click.echo(f"skipped: {skip['file']}: {skip['reason']}")
