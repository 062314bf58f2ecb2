"""Simulation engines for the Diehl & Cook (2015) network.

An engine holds the trainable state (input->excitatory weights and adaptive
thresholds) and runs images given as input spike trains. Every engine implements:

``train_sample(spikes)``
    one image, learning on; ``spikes`` is uint8 ``[time, n_input]``; returns the
    excitatory spikes ``[time, n_neurons]`` (bool, CPU).
``infer(spikes)``
    a batch, learning off; ``spikes`` is uint8 ``[batch, time, n_input]``; returns
    ``[batch, time, n_neurons]``. The model state is not changed.
``encode(images)``
    Poisson-encode uint8 images ``[batch, h, w]`` to uint8 ``[batch, time, n_input]``
    (rate = pixel / 255 x intensity Hz).
``get_state()`` / ``set_state(state)``
    ``{"weights": float32 [n_input, n_neurons], "theta": float32 [n_neurons]}`` on CPU.
``get_rng_state()`` / ``set_rng_state(state)``
    everything the engine's own random draws depend on (checkpoint/resume).

:class:`BindsNETEngine` is the reference: BindsNET 0.3.4's ``DiehlAndCook2015``.
"""

from __future__ import annotations

import os
from typing import Any, Mapping

import torch

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def resolve_device(device: str) -> torch.device:
    """``auto`` -> CUDA when available, else CPU; ``cuda`` without a GPU is an error."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device == "cuda" and not torch.cuda.is_available():
        raise RuntimeError("simulation.device is 'cuda' but no CUDA device is available")
    return torch.device(device)


def network_norm(model_cfg: Mapping[str, Any], n_input: int) -> float:
    """Column sum of the input weights: ``norm_per_input`` x inputs (78.4 for 784)."""
    return float(model_cfg["norm_per_input"]) * n_input


def check_state(state: Mapping[str, torch.Tensor], n_input: int, n_neurons: int):
    """The ``(weights, theta)`` of an engine state, checked against the network's size."""
    w, theta = state["weights"], state["theta"]
    if tuple(w.shape) != (n_input, n_neurons):
        raise ValueError(
            f"weights of shape {tuple(w.shape)} do not fit a network of "
            f"{n_input} inputs x {n_neurons} neurons"
        )
    if tuple(theta.shape) != (n_neurons,):
        raise ValueError(f"theta of shape {tuple(theta.shape)}; expected ({n_neurons},)")
    return w, theta


class BindsNETEngine:
    """BindsNET 0.3.4 ``DiehlAndCook2015``, configured from the ``model`` config section.

    Random draws (``one_spike`` selection) use torch's global generator, as in BindsNET.
    """

    name = "bindsnet"

    def __init__(self, model_cfg: Mapping[str, Any], input_shape, n_neurons: int,
                 device: str | torch.device = "cpu") -> None:
        from bindsnet.learning.MCC_learning import DiehlAndCook, PostPre
        from bindsnet.models import DiehlAndCook2015
        from bindsnet.network.monitors import Monitor

        self.cfg = dict(model_cfg)
        self.input_shape = tuple(int(s) for s in input_shape)
        self.n_input = int(torch.tensor(self.input_shape).prod())
        self.n_neurons = int(n_neurons)
        self.time = int(self.cfg["time"])
        self.dt = float(self.cfg["dt"])
        self.device = torch.device(device)
        rule = {"postpre": PostPre, "diehl_cook": DiehlAndCook}[self.cfg["learning_rule"]]
        kwargs = {"x_tar": self.cfg["x_tar"], "mu": self.cfg["mu"]} if rule is DiehlAndCook else None
        net = DiehlAndCook2015(
            n_inpt=self.n_input,
            n_neurons=self.n_neurons,
            exc=self.cfg["exc"],
            inh=self.cfg["inh"],
            dt=self.dt,
            nu=tuple(self.cfg["nu"]),
            wmin=self.cfg["wmin"],
            wmax=self.cfg["wmax"],
            norm=network_norm(self.cfg, self.n_input),
            theta_plus=self.cfg["theta_plus"],
            tc_theta_decay=self.cfg["tc_theta_decay"],
            inpt_shape=(1, *self.input_shape),
            inh_thresh=self.cfg["inh_thresh"],
            exc_thresh=self.cfg["exc_thresh"],
            learning_rule=rule,
            learning_rule_kwargs=kwargs,
            device=str(self.device),
        )
        net.layers["Ae"].one_spike = bool(self.cfg["one_spike"])
        self.monitor = Monitor(net.layers["Ae"], state_vars=["s"], time=self.time)
        net.add_monitor(self.monitor, name="Ae_spikes")
        self.network = net.to(self.device)

    # -- state ---------------------------------------------------------------
    @property
    def _weight(self):
        return self.network.connections[("X", "Ae")].pipeline[0]

    def get_state(self) -> dict[str, torch.Tensor]:
        return {
            "weights": self._weight.value.detach().to("cpu", torch.float32).clone(),
            "theta": self.network.layers["Ae"].theta.detach().to("cpu", torch.float32).clone(),
        }

    def set_state(self, state: Mapping[str, torch.Tensor]) -> None:
        w, theta = check_state(state, self.n_input, self.n_neurons)
        self._weight.value.copy_(w.to(self._weight.value.device))
        self.network.layers["Ae"].theta.copy_(theta.to(self.device))

    def get_rng_state(self) -> dict[str, Any]:
        out = {"torch": torch.get_rng_state()}
        if torch.cuda.is_available():
            out["cuda"] = torch.cuda.get_rng_state_all()
        return out

    def set_rng_state(self, state: Mapping[str, Any]) -> None:
        torch.set_rng_state(state["torch"])
        if "cuda" in state and torch.cuda.is_available():
            torch.cuda.set_rng_state_all(state["cuda"])

    # -- simulation ----------------------------------------------------------
    def encode(self, images) -> torch.Tensor:
        from snninfo.model.encoding import poisson_encode

        return poisson_encode(images, self.time, self.dt, self.cfg["intensity"])

    def _run(self, spikes: torch.Tensor) -> torch.Tensor:
        """spikes: [batch, time, n_input] -> excitatory spikes [batch, time, n_neurons]."""
        batch, steps, n_in = spikes.shape
        if steps != self.time or n_in != self.n_input:
            raise ValueError(
                f"input spikes of shape {tuple(spikes.shape)}; expected [batch, {self.time}, {self.n_input}]"
            )
        # a copy: BindsNET writes into its input tensor (the caller's spikes stay intact)
        x = spikes.to(self.device).transpose(0, 1).reshape(steps, batch, 1, *self.input_shape).clone()
        self.network.run(inputs={"X": x}, time=steps * self.dt)
        out = self.monitor.get("s").reshape(steps, batch, self.n_neurons).transpose(0, 1)
        out = out.to("cpu", torch.bool).clone()
        self.network.reset_state_variables()
        return out

    def train_sample(self, spikes: torch.Tensor) -> torch.Tensor:
        self.network.train(True)
        return self._run(spikes.unsqueeze(0))[0]

    def infer(self, spikes: torch.Tensor) -> torch.Tensor:
        """Learning off. BindsNET renormalises the weights after every run even then
        (changing them by float rounding); the weights are restored so inference never
        changes the model."""
        self.network.train(False)
        saved = self._weight.value.detach().clone()
        try:
            return self._run(spikes)
        finally:
            self._weight.value.copy_(saved)


def make_engine(name: str, model_cfg: Mapping[str, Any], input_shape, n_neurons: int,
                device: str | torch.device = "cpu", seed: int = 0):
    """Engine factory for ``simulation.engine``.

    Call after seeding torch's global generator: initial weights are drawn from it
    (``0.3 x U[0, 1)``, as ``DiehlAndCook2015``). ``seed`` seeds an engine's own
    generator where it has one (BindsNET uses torch's global generator).
    """
    if name == "bindsnet":
        return BindsNETEngine(model_cfg, input_shape, n_neurons, device)
    if name == "fast":
        from snninfo.model.fast import FastEngine

        return FastEngine(model_cfg, input_shape, n_neurons, device, seed)
    raise ValueError(f"unknown simulation.engine {name!r} (known: bindsnet, fast)")
