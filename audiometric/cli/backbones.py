"""``audiometric backbones``: every registered backbone, its input, outputs, weights and licence.

Read from the backbone registry and the weights registry only: listing imports no torch and no network.
"""

from __future__ import annotations

import json

import click

EXAMPLES = """Examples:

\b
  audiometric backbones
  audiometric backbones --json
  audiometric score gen/ ref/ --backbone clap-laion --checkpoint clap-laion=/models/clap-htsat-unfused
"""


def describe() -> list[dict]:
    """One record per backbone: name, rate (Hz), outputs with widths, settings, precisions, checkpoint files and
    source, licence."""
    from audiometric import backbones
    from audiometric.backbones.weights import WEIGHTS

    records = []
    for name in backbones.available():
        spec, weights = backbones.spec(name), WEIGHTS.get(name)
        dims = spec.dims or (None,) * len(spec.outputs)
        records.append(
            {
                "name": name,
                "sample_rate": spec.sample_rate,
                "rows": "per frame" if spec.per_frame else "per clip",
                "outputs": {output: dim for output, dim in zip(spec.outputs, dims, strict=True)},
                "params": list(spec.params),
                "precisions": list(spec.precisions),
                "checkpoint": list(weights.files or (weights.filename,)) if weights else [],
                "source": (weights.url or weights.install) if weights else None,
                "licence": weights.licence if weights else None,
            }
        )
    return records


def _line(record: dict) -> str:
    outputs = ", ".join(f"{out} {dim or '?'}-d" for out, dim in record["outputs"].items())
    settings = f"; --param {', '.join(record['params'])}" if record["params"] else ""
    settings += f"; --precision {'|'.join(record['precisions'])}"
    return (
        f"{record['name']:<16} {record['sample_rate']:>6} Hz  {outputs} {record['rows']}{settings}\n"
        f"{'':<16} weights: {' + '.join(record['checkpoint'])} from {record['source']}; "
        f"licence: {record['licence'] or 'see the model card'}"
    )


@click.command("backbones", epilog=EXAMPLES)
@click.option("--json", "as_json", is_flag=True, help="Print the list as JSON.")
def backbones(as_json: bool) -> None:
    """List every backbone: input rate, outputs and their widths, expected checkpoint files, licence."""
    records = describe()
    click.echo(json.dumps(records, indent=2) if as_json else "\n".join(_line(r) for r in records))
