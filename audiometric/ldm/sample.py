"""Our own DDIM sampling loop over AudioLDM's core components.

Own code (not ``AudioLDMPipeline``, deprecated in diffusers) so that each clip's starting noise comes from its
own seed on the CPU: the same seed gives the same audio whatever the batch size and device. The conditioning
is the pipeline's: the CLAP projection enters through ``class_labels`` with ``encoder_hidden_states=None``,
and classifier-free guidance mixes the conditional and unconditional noise predictions.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch

from audiometric.ldm.components import Components


def mel_frames(components: Components, duration: float) -> int:
    """Mel frames for ``duration`` seconds, rounded up to a multiple of the VAE's downsampling."""
    frames = int(duration * components.sample_rate / components.hop + 1e-6)
    scale = components.vae_scale
    return -(-frames // scale) * scale


def latent_shape(components: Components, duration: float) -> tuple[int, int, int]:
    """(channels, rows, columns) of one clip's latent for ``duration`` seconds."""
    scale = components.vae_scale
    return (
        int(components.unet.config.in_channels),
        mel_frames(components, duration) // scale,
        components.n_mels // scale,
    )


def initial_noise(components: Components, seeds: list[int], duration: float) -> torch.Tensor:
    """(B, C, H, W) standard normal latents, clip i drawn from a CPU generator seeded with ``seeds[i]``."""
    shape = (1, *latent_shape(components, duration))
    noise = [
        torch.randn(shape, generator=torch.Generator("cpu").manual_seed(int(s)), dtype=torch.float32) for s in seeds
    ]
    return torch.cat(noise).to(components.device, components.dtype)


@torch.inference_mode()
def decode(components: Components, latents: torch.Tensor, samples: int) -> np.ndarray:
    """Latents -> mel (VAE) -> waveform (HiFi-GAN vocoder): (B, ``samples``) float32 at the vocoder's rate."""
    mel = components.vae.decode(latents / components.vae.config.scaling_factor).sample
    wave = components.vocoder(mel.squeeze(1))
    return wave[:, :samples].float().cpu().numpy()


@torch.inference_mode()
def sample(
    components: Components,
    cond: torch.Tensor,
    uncond: torch.Tensor,
    seeds: list[int],
    steps: int = 200,
    guidance: float = 2.5,
    duration: float = 10.24,
    on_step: Callable[[int], None] | None = None,
) -> np.ndarray:
    """Generate one clip per row of ``cond`` (B, D): DDIM (η = 0) with ``steps`` steps and guidance scale
    ``guidance`` against ``uncond`` ((1, D) or (B, D)). Returns (B, samples) float32 waveforms at
    ``components.sample_rate`` (16 kHz for AudioLDM), ``samples = int(duration * rate)``.
    """
    if len(seeds) != cond.shape[0]:
        raise ValueError(f"{len(seeds)} seeds for {cond.shape[0]} conditions")
    scheduler = type(components.scheduler).from_config(components.scheduler.config)  # own state per call
    scheduler.set_timesteps(steps, device=components.device)
    latents = initial_noise(components, seeds, duration) * scheduler.init_noise_sigma
    cond = cond.to(components.device, components.dtype)
    guided = guidance > 1.0
    if guided:
        labels = torch.cat([uncond.to(cond).expand(cond.shape[0], -1), cond])
    for i, t in enumerate(scheduler.timesteps):
        model_input = torch.cat([latents, latents]) if guided else latents
        model_input = scheduler.scale_model_input(model_input, t)
        noise = components.unet(
            model_input, t, encoder_hidden_states=None, class_labels=labels if guided else cond
        ).sample
        if guided:
            uncond_noise, cond_noise = noise.chunk(2)
            noise = uncond_noise + guidance * (cond_noise - uncond_noise)  # Ho & Salimans 2022, eq. 6
        latents = scheduler.step(noise, t, latents, eta=0.0).prev_sample
        if on_step is not None:
            on_step(i)
    return decode(components, latents, int(duration * components.sample_rate))
