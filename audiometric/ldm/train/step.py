"""One micro-batch of AudioLDM's training objective: DDPM ε-prediction MSE on VAE latents.

Ho et al. (2020), eq. 14: L = ‖ε − ε_θ(√ᾱ_t·z₀ + √(1−ᾱ_t)·ε, t, c)‖², z₀ drawn from the VAE posterior
N(μ, σ²) and scaled by the VAE's ``scaling_factor`` (AudioLDM's ``scale_by_std``). The condition c is the
L2-normalised CLAP vector, fed as diffusers' AudioLDM U-Net expects it (``class_labels``, no
``encoder_hidden_states``), replaced by the empty prompt's vector with probability ``cfg_dropout``
(classifier-free guidance training, Ho & Salimans 2022).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from audiometric.ldm.train.data import Draws


def diffusion_loss(
    unet: torch.nn.Module,
    alphas_cumprod: torch.Tensor,
    scaling_factor: float,
    mean: torch.Tensor,
    std: torch.Tensor,
    cond: torch.Tensor,
    empty: torch.Tensor,
    draw: Draws,
) -> torch.Tensor:
    """Mean squared ε-error of one micro-batch (a scalar, fp32); every tensor already on the U-Net's device."""
    device = mean.device
    t = draw.timesteps.to(device)
    noise = draw.noise.to(device)
    z0 = (mean + std * draw.posterior.to(device)) * scaling_factor
    a = alphas_cumprod.to(device)[t].view(-1, 1, 1, 1)
    noisy = a.sqrt() * z0 + (1 - a).sqrt() * noise  # DDPM forward process q(z_t | z_0)
    labels = torch.where(draw.drop.to(device)[:, None], empty.to(device)[None], cond)
    pred = unet(noisy, t, encoder_hidden_states=None, class_labels=labels).sample
    return F.mse_loss(pred.float(), noise.float())
