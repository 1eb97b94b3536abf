"""``python -m audiometric`` (also what ``torchrun -m audiometric`` runs)."""

from audiometric.cli import main

main(prog_name="audiometric")
