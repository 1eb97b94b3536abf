"""Runtime: devices, process groups, atomic file writes and the allocator setting (no audio, no networks)."""
