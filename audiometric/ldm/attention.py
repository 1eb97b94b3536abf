"""The U-Net's attention-head layout versus the original AudioLDM's 32 channels per head.

diffusers' AudioLDM conversion leaves ``attention_head_dim`` at 8, which UNet2DConditionModel reads as
*8 heads* in every attention block; the original AudioLDM (latent-diffusion ``num_head_channels: 32``) split
each block's channels into 32-channel heads (8/12/20 heads for the 256/384/640-channel blocks of AudioLDM-S).
Head count changes no weight shape, so the same weights run either way.
"""

from __future__ import annotations

#: The original AudioLDM configs' ``num_head_channels``.
ORIGINAL_HEAD_CHANNELS = 32


def _attention_blocks(config) -> list[int]:
    """Indices of the down blocks that hold attention (the up blocks mirror them, the mid block is the last)."""
    return [i for i, kind in enumerate(config["down_block_types"]) if "Attn" in kind]


def configured_heads(config) -> list[int]:
    """Heads per down block as the loaded config sets them (diffusers' legacy ``attention_head_dim`` = heads)."""
    heads = config.get("num_attention_heads") or config["attention_head_dim"]
    count = len(config["block_out_channels"])
    return list(heads) if isinstance(heads, (list, tuple)) else [int(heads)] * count


def original_heads(config, head_channels: int = ORIGINAL_HEAD_CHANNELS) -> list[int]:
    """Heads per down block under the original layout: channels // ``head_channels`` (at least 1)."""
    return [max(1, channels // head_channels) for channels in config["block_out_channels"]]


def layout(config, head_channels: int = ORIGINAL_HEAD_CHANNELS) -> dict:
    """The head layout of the attention blocks, for the manifest: heads, channels per head, original heads."""
    blocks = _attention_blocks(config)
    heads, original = configured_heads(config), original_heads(config, head_channels)
    channels = [config["block_out_channels"][i] for i in blocks]
    return {
        "block_channels": channels,
        "heads": [heads[i] for i in blocks],
        "channels_per_head": [c // heads[i] for c, i in zip(channels, blocks)],
        "original_heads": [original[i] for i in blocks],
        "matches_original": all(heads[i] == original[i] for i in blocks),
    }


def original_attention_config(config, head_channels: int = ORIGINAL_HEAD_CHANNELS) -> dict:
    """A copy of the U-Net config with the original per-block head counts (weights unchanged)."""
    updated = dict(config)
    updated["attention_head_dim"] = original_heads(config, head_channels)
    updated.pop("num_attention_heads", None)
    return updated
