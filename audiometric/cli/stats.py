"""``audiometric stats REF_DIR -o ref.npz``: parse options and call :func:`audiometric.api.stats`."""

from __future__ import annotations

import click

from audiometric.api import stats_metrics
from audiometric.cli.options import (
    backbone_options,
    backbone_param_option,
    extraction_kwargs,
    extraction_options,
    metrics_option,
    overwrite_option,
    strict_option,
)

EXAMPLES = """Examples:

\b
  audiometric stats audiocaps_test/ -o audiocaps_test.npz
  audiometric score generated/ audiocaps_test.npz --metrics fd,fad
  torchrun --nproc_per_node 4 -m audiometric stats big_reference/ -o big.npz --metrics fd
"""


@click.command("stats", epilog=EXAMPLES)
@click.argument("reference", type=click.Path())
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False), help="The .npz to write.")
@metrics_option(stats_metrics(), "Fréchet metrics whose reference statistics to store (fd, fad).")
@backbone_options("Network whose embedding FD reads.", "Network whose embedding FAD reads.")
@strict_option
@overwrite_option
@extraction_options
@backbone_param_option
def stats(reference, output, metrics, backbone, fad_backbone, strict, overwrite, **extraction):
    """Store the mean and covariance of REFERENCE's embeddings, to score against later (`score GEN ref.npz`).

    Under torchrun each rank embeds a share of the files and rank 0 writes the file.
    """
    from audiometric.api import stats as run
    from audiometric.runtime.outputs import check_file

    check_file(output, "npz", flag="-o", inputs=(reference,), overwrite=overwrite)
    result = run(
        reference,
        output,
        metrics,
        backbone,
        fad_backbone=fad_backbone,
        strict=strict,
        overwrite=overwrite,
        **extraction_kwargs(**extraction),
    )
    if result is None:  # a non-zero torchrun rank: rank 0 reports
        return
    click.echo(f"wrote {output}: {result.meta['clips']} clips, statistics for {', '.join(sorted(result.moments))}")
    for skip in result.meta["skipped"]:
        click.echo(f"skipped: {skip['file']}: {skip['reason']}")
