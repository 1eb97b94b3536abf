"""Scores: the pipeline from folders or files to a Result (compute, reference statistics, reports, exports)."""
