"""The package version (one place; setup.cfg and every provenance record read it)."""

__version__ = "0.1.0"
