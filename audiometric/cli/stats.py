"""``audiometric stats REF_DIR -o ref.npz``: parse options and compute reference statistics."""

from __future__ import annotations

import click

from ..distributed import finish, init
from ..evaluate import Settings, needed_outputs
from ..reference import accumulate, save
from ..score import make_extractor
from .options import backbone_choice, extraction_options, extraction_settings
from .score import metric_list

EXAMPLES = """Examples:

\b
  audiometric stats audiocaps_test/ -o audiocaps_test.npz
  audiometric score generated/ audiocaps_test.npz --metrics fd,fad
  torchrun --nproc_per_node 4 -m audiometric stats big_reference/ -o big.npz --metrics fd
"""


@click.command("stats", epilog=EXAMPLES)
@click.argument("reference", type=click.Path())
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False), help="The .npz to write.")
@click.option("--metrics", default="fd,fad", show_default=True, callback=metric_list,
              help="Fréchet metrics whose reference statistics to store (fd, fad).")
@click.option("--backbone", type=backbone_choice, default="panns-cnn14-16k", show_default=True,
              help="Network whose embedding FD reads.")
@click.option("--fad-backbone", type=backbone_choice, default="vggish", show_default=True,
              help="Network whose embedding FAD reads.")
@click.option("--strict", is_flag=True, help="Fail on the first unusable file instead of skipping it.")
@extraction_options
def stats(reference, output, metrics, backbone, fad_backbone, strict, **extraction):
    """Store the mean and covariance of REFERENCE's embeddings, to score against later (`score GEN ref.npz`).

    Under torchrun each rank embeds a share of the files and rank 0 writes the file.
    """
    frechet = tuple(m for m in metrics if m in ("fd", "fad"))
    if not frechet:
        raise click.BadParameter("statistics files serve fd and fad only", param_hint="--metrics")
    opts = extraction_settings(strict=strict, **extraction)
    needs = needed_outputs(Settings(frechet, backbone, fad_backbone))
    rank, size = init(opts.device)
    extractor = make_extractor(needs, opts, progress=rank == 0)
    result = accumulate(reference, extractor, needs, opts.strict, rank, size)
    finish()
    if rank != 0:
        return
    save(result, output)
    click.echo(f"wrote {output}: {result.meta['clips']} clips, statistics for {', '.join(sorted(result.moments))}")
    for skip in result.meta["skipped"]:
        click.echo(f"skipped: {skip['file']}: {skip['reason']}")
