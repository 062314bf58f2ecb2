"""Poisson rate coding of images, as BindsNET's ``PoissonEncoder``.

A pixel of value v fires at ``v / 255 x intensity`` Hz (the paper's
``ToTensor() * intensity`` transform), encoded over ``time`` steps of ``dt`` ms.
"""

from __future__ import annotations

import numpy as np
import torch


def pixel_rates(images, intensity: float) -> torch.Tensor:
    """uint8 images -> firing rates in Hz, float32 (ToTensor's division by 255 first)."""
    x = torch.as_tensor(np.asarray(images))
    if x.dtype != torch.uint8:
        raise TypeError(f"images must be uint8, got {x.dtype}")
    return x.to(torch.float32).div(255.0).mul(float(intensity))


def poisson_encode(images, time: int, dt: float, intensity: float,
                   device: str | torch.device = "cpu") -> torch.Tensor:
    """Encode uint8 images ``[batch, h, w]`` to spikes uint8 ``[batch, time, h*w]``.

    Each image is encoded separately with ``bindsnet.encoding.poisson`` (faster than
    one call over a batch), drawing from torch's global generator.
    """
    from bindsnet.encoding import poisson

    rates = pixel_rates(images, intensity)
    if rates.ndim == 2:
        rates = rates.unsqueeze(0)
    out = torch.empty((rates.shape[0], int(time), rates[0].numel()), dtype=torch.uint8)
    for i in range(rates.shape[0]):
        spikes = poisson(rates[i], time=int(time * dt), dt=dt, device=device)
        out[i] = spikes.reshape(int(time), -1).to("cpu")
    return out
