"""Embeddings: decode once, run every backbone, cache per file; clip sets and sharding across ranks."""
