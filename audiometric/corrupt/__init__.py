"""Corrupting folders: apply a ``corruptions`` entry to every clip of a set, with a manifest."""
