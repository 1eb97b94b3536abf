"""Exponential moving average of a model's parameters (fp32 shadow copy), checkpointable.

Decay follows latent diffusion's ``LitEma`` (which AudioLDM trains with): at update n the weight is
``min(decay, (1 + n) / (10 + n))``, so early averages are not dominated by the initial weights.
"""

from __future__ import annotations

import torch


class EMA:
    """Shadow of all of ``model``'s parameters (in ``parameters()`` order); ``update`` after every optimizer step."""

    def __init__(self, model: torch.nn.Module, decay: float = 0.9999):
        if not 0.0 <= decay <= 1.0:
            raise ValueError(f"EMA decay must lie in [0, 1], got {decay}")
        self.decay = decay
        self.num_updates = 0
        self.shadow = [p.detach().float().clone() for p in _params(model)]

    def current_decay(self) -> float:
        """Weight given to the old average at the next update."""
        return min(self.decay, (1 + self.num_updates) / (10 + self.num_updates))

    @torch.no_grad()
    def update(self, model: torch.nn.Module) -> None:
        """shadow ← shadow + (1 − d)·(param − shadow)."""
        weight = 1.0 - self.current_decay()
        params = [p.detach().float() for p in _params(model)]
        torch._foreach_lerp_(self.shadow, params, weight)
        self.num_updates += 1

    @torch.no_grad()
    def copy_to(self, model: torch.nn.Module) -> None:
        """Write the averaged weights into ``model`` (cast to its dtype)."""
        for shadow, p in zip(self.shadow, _params(model)):
            p.copy_(shadow.to(p.dtype))

    def state_dict(self) -> dict:
        return {"decay": self.decay, "num_updates": self.num_updates, "shadow": self.shadow}

    def load_state_dict(self, state: dict) -> None:
        if len(state["shadow"]) != len(self.shadow):
            raise ValueError(f"EMA state holds {len(state['shadow'])} tensors, the model {len(self.shadow)}")
        self.decay = float(state["decay"])
        self.num_updates = int(state["num_updates"])
        device = self.shadow[0].device if self.shadow else "cpu"
        self.shadow = [t.to(device=device, dtype=torch.float32).clone() for t in state["shadow"]]


def _params(model: torch.nn.Module) -> list[torch.nn.Parameter]:
    return list(model.parameters())
