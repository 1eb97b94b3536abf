"""Each backbone's loader goes through the verified weights path: a cached file with the official name
but other bytes is rejected before it is unpickled, and offline the error names file, URL and place."""

import pytest

from audiometric import backbones
from audiometric.backbones.weights import WEIGHTS, weights_dir
from audiometric.errors import WeightsError


@pytest.mark.parametrize("name", ["panns-cnn14-16k", "panns-cnn14-32k", "vggish", "passt"])
def test_cached_checkpoint_with_wrong_sha256_is_rejected(name):
    entry = WEIGHTS[name]
    cached = weights_dir() / entry.filename
    cached.parent.mkdir(parents=True, exist_ok=True)
    cached.write_bytes(b"same name, other bytes")
    with pytest.raises(WeightsError, match="corrupt or a different file") as err:
        backbones.load(name)
    message = str(err.value)
    assert "\n" not in message and str(cached) in message and "delete" in message


@pytest.mark.parametrize("name", ["panns-cnn14-16k", "panns-cnn14-32k", "vggish", "passt"])
def test_offline_error_names_file_url_and_destination(name):
    entry = WEIGHTS[name]
    with pytest.raises(WeightsError) as err:
        backbones.load(name)
    message = str(err.value)
    assert "\n" not in message and entry.url in message and str(weights_dir() / entry.filename) in message
    assert f"--checkpoint {name}=" in message or entry.env_var in message
