"""Audio in: listing folders, decoding files, preprocessing and resampling (numpy/soundfile; torch only on use)."""
