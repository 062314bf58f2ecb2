"""Fast engine: BindsNET 0.3.4's ``DiehlAndCook2015`` re-implemented with numba kernels.

:class:`FastEngine` implements the engine interface of :mod:`snninfo.model.engine` and
reproduces :class:`~snninfo.model.engine.BindsNETEngine` step by step, in float32 and,
wherever the order of floating-point operations is under our control, in the same
order as BindsNET's tensor code.

Network (fixed by ``DiehlAndCook2015``; thresholds, ``exc``, ``inh`` and the learning
parameters come from the ``model`` config)
    X   input layer, one neuron per pixel, spike trace ``x_X`` (time constant 20 ms;
        set to 1 on a spike for ``postpre``, incremented by 1 for ``diehl_cook``).
    Ae  ``DiehlAndCookNodes``: rest -65, reset -60, refractory 5 ms, tc 100 ms,
        threshold ``exc_thresh + theta``, spike trace ``x_E`` (tc 20 ms, set to 1).
    Ai  ``LIFNodes``: rest -60, reset -45, threshold ``inh_thresh``, tc 10 ms,
        refractory 2 ms.
    X->Ae learned weights ``W`` [n_input, n_neurons]; Ae->Ai ``exc`` one-to-one;
    Ai->Ae ``-inh`` to every other excitatory neuron.

One simulation step ``t`` (``Network.run``: all layer inputs come from the previous
step's spikes, then the layers update in the order X, Ae, Ai, then learning):

1. Inputs from step ``t-1``: ``I_E = (sum of the W rows of the inputs that spiked at
   t-1) + (sum of -inh over the inhibitory neurons other than j that spiked at t-1)``;
   ``I_I = exc x (Ae spikes at t-1)``. Event driven: only the rows of active inputs are
   read.
2. X: spikes = input row ``t``; ``x_X <- x_X * decay_trace``, then ``x_X <- 1`` (postpre)
   or ``x_X <- x_X + 1`` (diehl_cook) where an input spiked.
3. Ae: ``v <- (v - rest) * decay + rest``; learning: ``theta <- theta * theta_decay``;
   ``v <- v + I_E`` unless refractory (``refrac_count > 0``); ``refrac_count -= dt``;
   crossers ``v >= thresh + theta``: ``refrac_count <- 5``, ``v <- reset``, learning:
   ``theta <- theta + theta_plus`` (every crosser); ``one_spike``: one crosser, chosen
   uniformly at random, emits the spike; ``x_E <- x_E * decay_trace``, ``x_E <- 1`` where
   a spike was emitted.
4. Ai: ``v <- (v - rest) * decay + rest``; ``I_I <- 0`` where refractory;
   ``refrac_count -= dt``; ``v <- v + I_I``; spikes ``v >= thresh``: ``refrac_count <- 2``,
   ``v <- reset``.
5. Learning (``train_sample`` only), after all layers, with this step's spikes and traces:
   ``postpre``: ``W[i, :] -= nu_pre * x_E`` for every input ``i`` that spiked, then
   ``W[:, j] += nu_post * x_X`` (one fused multiply-add, as MKL's ``addmm``) for every
   emitted excitatory spike ``j``; ``diehl_cook``: ``W[:, j] += (nu_post * (x_X - x_tar))
   * (wmax - W[:, j]) ** mu`` for every emitted spike ``j``. Then ``W`` is clamped to
   ``[wmin, wmax]`` (BindsNET clamps the whole matrix every learning step; here the
   whole matrix once before the first step of an image, when it is read only through
   inputs that are all zero, and afterwards only the entries that changed: the same
   result).
6. The excitatory spikes of step ``t`` are recorded.

After each training image the columns of ``W`` are scaled to sum to ``norm_per_input x
n_input`` with BindsNET's own torch code; all state variables start from rest for every
image. Inference runs the same steps with learning off (``theta`` and ``W`` unchanged,
no normalisation).

Floating point: every elementwise operation is the same float32 operation in the same
order as BindsNET's (constants are computed with the same torch expressions); the
rank-1 weight update of ``postpre`` uses a fused multiply-add as MKL's ``addmm_`` does
on CPUs with FMA, and the per-image normalisation runs BindsNET's torch code on the
same matrix. Given identical spikes, weights and theta are therefore bit-identical to
BindsNET's (as measured by the tests on real MNIST images).

Deviations from BindsNET (none changes the model):

* Summation order of the X->Ae input: BindsNET computes it as a dense float32 matmul
  (MKL, whose blocking depends on the CPU, the matrix sizes and the batch size); the
  numba kernel sums the rows of the active inputs in index order, the torch path uses
  the device's matmul. Membrane potentials can therefore differ in the last bit
  (~4e-6 mV), and a spike can differ only when a potential lies within a few ulp of
  threshold (not seen in the tests). The inhibitory input is exact in both (sums of
  ``-inh``, exact in float32 for the configured values, e.g. 120 or 17.5).
* Random draws: Poisson encoding and the ``one_spike`` choice use the engine's numpy
  Generator (``seed``), not torch's global generator, so the draws have BindsNET's
  distributions but are different numbers. The encoder draws each pixel's intervals
  one by one, by inversion of float64 Poisson CDF tables (error < 1e-12), until the
  train passes the window, where BindsNET draws ``time + 1`` intervals for every pixel
  with ``torch.poisson``; the spike trains have the same distribution. The torch path
  draws its ``one_spike`` choices from a torch Generator seeded from the numpy one.
* ``diehl_cook`` with ``mu`` other than 1 or 2: ``(wmax - w) ** mu`` uses libm's
  ``powf`` where torch uses its vectorised ``pow`` (may differ in the last bit).
* Training always runs the numba kernel on the CPU; with ``device="cuda"`` only
  inference uses the GPU (batch-1 training on a GPU is launch-bound and slower).
* ``infer`` does not renormalise the weights (BindsNET does after every run, then
  :class:`~snninfo.model.engine.BindsNETEngine` restores them), and learning-only
  state (traces) is not computed with learning off.
"""

from __future__ import annotations

import logging
import math
from typing import Any, Mapping

import numpy as np
import torch
from llvmlite import ir
from numba import njit, types
from numba.extending import intrinsic

from snninfo.model.encoding import pixel_rates
from snninfo.model.engine import check_state, network_norm

log = logging.getLogger("snninfo")

# DiehlAndCook2015's fixed neuron parameters (mV, ms).
EXC_REST, EXC_RESET, EXC_REFRAC, EXC_TC_DECAY, TC_TRACE = -65.0, -60.0, 5, 100.0, 20.0
INH_REST, INH_RESET, INH_REFRAC, INH_TC_DECAY = -60.0, -45.0, 2, 10.0

RULES = {"postpre": 0, "diehl_cook": 1}

# Indices into the float32 parameter vector of the kernels.
(P_DT, P_REST_E, P_RESET_E, P_THRESH_E, P_REFRAC_E, P_DECAY_E, P_THETA_DECAY, P_THETA_PLUS,
 P_TRACE_DECAY, P_REST_I, P_RESET_I, P_THRESH_I, P_REFRAC_I, P_DECAY_I, P_EXC, P_NU_PRE,
 P_NU_POST, P_WMIN, P_WMAX, P_X_TAR, P_MU, N_PARAMS) = range(22)


def _parameters(cfg: Mapping[str, Any]) -> np.ndarray:
    """float32 constants, each computed with the same torch expression as BindsNET
    (e.g. ``decay = exp(-dt / tc)`` from float32 tensors, ``Nodes.compute_decays``)."""
    dt = torch.tensor(float(cfg["dt"]))  # Nodes.compute_decays: torch.tensor(dt)

    def decay(tc):
        return float(torch.exp(-dt / torch.tensor(float(tc))))

    p = np.zeros(N_PARAMS, np.float32)
    p[P_DT] = dt.item()
    p[P_REST_E], p[P_RESET_E], p[P_REFRAC_E] = EXC_REST, EXC_RESET, EXC_REFRAC
    p[P_THRESH_E] = cfg["exc_thresh"]
    p[P_DECAY_E] = decay(EXC_TC_DECAY)
    p[P_THETA_DECAY] = decay(cfg["tc_theta_decay"])
    p[P_THETA_PLUS] = cfg["theta_plus"]
    p[P_TRACE_DECAY] = decay(TC_TRACE)
    p[P_REST_I], p[P_RESET_I], p[P_REFRAC_I] = INH_REST, INH_RESET, INH_REFRAC
    p[P_THRESH_I] = cfg["inh_thresh"]
    p[P_DECAY_I] = decay(INH_TC_DECAY)
    p[P_EXC] = cfg["exc"]
    p[P_NU_PRE], p[P_NU_POST] = cfg["nu"]
    p[P_WMIN], p[P_WMAX] = cfg["wmin"], cfg["wmax"]
    p[P_X_TAR], p[P_MU] = cfg["x_tar"], cfg["mu"]
    return p


def _inhibition_sums(inh: float, n: int) -> np.ndarray:
    """``out[k]``: float32 sum of ``k`` inhibitory weights ``-inh``, added in sequence."""
    out = np.zeros(n + 1, np.float32)
    w = np.float32(-inh)
    for k in range(1, n + 1):
        out[k] = out[k - 1] + w
    return out


def _mean_intervals(intensity: float, dt: float) -> np.ndarray:
    """Mean inter-spike interval in steps for each pixel value 0..255, as
    ``bindsnet.encoding.poisson`` computes it (``1 / rate * (1000 / dt)``, float32)."""
    rates = pixel_rates(np.arange(256, dtype=np.uint8), intensity)
    lam = torch.zeros(256)
    lam[1:] = 1 / rates[1:] * (1000 / dt)
    return lam.double().numpy()


@njit(cache=True)
def _poisson_tables(lam, steps):
    """Inversion tables of the inter-spike interval ``k ~ Poisson(lam[v])`` for every
    pixel value v > 0.

    Table v holds the float64 CDF at k = 0 .. K - 1 in ``cdf[start[v]:start[v + 1]]``,
    ``K = min(lam + 12 sqrt(lam) + 30, steps + 2)``; its last entry is set to 1, i.e. the
    tail is drawn as k = K - 1, which is exact where K = steps + 2 (any interval beyond
    ``steps`` ends the train alike) and otherwise moves a mass below 1e-30. A guide table
    of the same length (``guide[start[v] + b]``: the first k with ``CDF(k) > b / K``)
    makes a draw cost one uniform and about two comparisons."""
    start = np.zeros(257, np.int64)
    for v in range(1, 256):
        start[v + 1] = start[v] + min(int(lam[v] + 12.0 * np.sqrt(lam[v]) + 30.0), steps + 2)
    cdf = np.zeros(start[256], np.float64)
    guide = np.zeros(start[256], np.int64)
    for v in range(1, 256):
        a, m = start[v], start[v + 1] - start[v]
        log_lam = np.log(lam[v])
        acc = 0.0
        for k in range(m):
            acc += np.exp(k * log_lam - lam[v] - math.lgamma(k + 1.0))
            cdf[a + k] = acc
        cdf[a + m - 1] = 1.0
        k = 0
        for b in range(m):
            while cdf[a + k] <= b / m:
                k += 1
            guide[a + b] = k
    return start, cdf, guide


@intrinsic
def _fmaf(typingctx, a, b, c):
    """float32 fused multiply-add ``a * b + c`` with one rounding (``llvm.fma``)."""
    sig = types.float32(types.float32, types.float32, types.float32)

    def codegen(context, builder, signature, args):
        f32 = ir.FloatType()
        fn = builder.module.declare_intrinsic("llvm.fma", [f32], ir.FunctionType(f32, [f32] * 3))
        return builder.call(fn, args)

    return sig, codegen


@njit(cache=True)
def _poisson_encode(pixels, steps, start, cdf, guide, rng, out):
    """Poisson spike trains as ``bindsnet.encoding.poisson``: for each pixel, intervals
    ~ Poisson(lam) with 0 -> 1, cumulated; a spike at every cumulated time ``c`` in
    ``[1, steps]`` (row ``c - 1``). Intervals are drawn by inversion
    (:func:`_poisson_tables`).

    pixels: uint8 [batch, n_input]; out: uint8 [batch, steps, n_input], overwritten (each
    image zeroed just before its spikes are written: faster than a zeroed allocation)."""
    for b in range(pixels.shape[0]):
        out[b] = 0
        for i in range(pixels.shape[1]):
            v = pixels[b, i]
            if v == 0:
                continue
            a, m = start[v], start[v + 1] - start[v]
            c = 0
            while True:
                u = rng.random()
                k = guide[a + int(u * m)]
                while cdf[a + k] <= u:
                    k += 1
                c += k if k > 0 else 1
                if c > steps:
                    break
                out[b, c - 1, i] = 1


@njit(cache=True)
def _active(row, words, idx):
    """Indices of the nonzero bytes of ``row`` (uint8, padded to a multiple of 8) into
    ``idx``; returns their number. ``words``: the same row viewed as uint64."""
    n = 0
    for k in range(words.shape[0]):
        if words[k]:
            for i in range(8 * k, 8 * k + 8):  # branch-free: write, advance if nonzero
                idx[n] = i
                n += row[i] != 0
    return n


@njit(cache=True)
def _simulate(w, theta, spikes, words, out, learning, rule, one_spike, rng, p, inh_sums):
    """One image, steps 1-6 of the module docstring.

    w: float32 [n_input, n] (changed when learning); theta: float32 [n] (changed when
    learning); spikes: uint8 [steps, >= n_input] (rows zero-padded to a multiple of 8),
    words: the same viewed as uint64; out: bool [steps, n], zeros (spikes are set)."""
    steps = spikes.shape[0]
    n_in, n = w.shape
    dt = p[P_DT]
    rest_e, reset_e, thresh_e, refrac_e = p[P_REST_E], p[P_RESET_E], p[P_THRESH_E], p[P_REFRAC_E]
    decay_e, theta_decay, theta_plus = p[P_DECAY_E], p[P_THETA_DECAY], p[P_THETA_PLUS]
    rest_i, reset_i, thresh_i, refrac_i = p[P_REST_I], p[P_RESET_I], p[P_THRESH_I], p[P_REFRAC_I]
    decay_i, trace_decay, exc = p[P_DECAY_I], p[P_TRACE_DECAY], p[P_EXC]
    nu_pre, nu_post, wmin, wmax = p[P_NU_PRE], p[P_NU_POST], p[P_WMIN], p[P_WMAX]
    x_tar, mu = p[P_X_TAR], p[P_MU]
    zero, one = np.float32(0.0), np.float32(1.0)
    additive = rule == 1  # diehl_cook: the paper's accumulating input trace

    v_e = np.full(n, rest_e, np.float32)
    ref_e = np.zeros(n, np.float32)
    x_e = np.zeros(n, np.float32)
    v_i = np.full(n, rest_i, np.float32)
    ref_i = np.zeros(n, np.float32)
    x_x = np.zeros(n_in, np.float32)
    act_prev = np.empty(spikes.shape[1], np.int32)  # inputs that spiked at t-1
    act = np.empty(spikes.shape[1], np.int32)
    n_act_prev = 0
    post = np.empty(n, np.int32)  # Ae neurons that cross threshold / emit a spike at t
    fired_i = np.empty(n, np.int32)  # Ai neurons that spike at t
    n_i = 0
    i_e = np.empty(n, np.float32)  # input to Ae
    i_i = np.zeros(n, np.float32)  # input to Ai: exc where Ae spiked at t-1
    inh = np.empty(n, np.float32)  # inhibition of Ae from the Ai spikes of t-1
    tmp = np.empty(max(n, n_in), np.float32)

    if learning:  # BindsNET's per-step clamp of the whole matrix, see step 5
        for i in range(n_in):
            for j in range(n):
                w[i, j] = min(max(w[i, j], wmin), wmax)

    for t in range(steps):
        # 1. inputs from step t-1
        i_e[:] = zero
        k = 0
        while k + 4 <= n_act_prev:  # four rows per pass, added in index order
            r0, r1, r2, r3 = w[act_prev[k]], w[act_prev[k + 1]], w[act_prev[k + 2]], w[act_prev[k + 3]]
            for j in range(n):
                i_e[j] = (((i_e[j] + r0[j]) + r1[j]) + r2[j]) + r3[j]
            k += 4
        for k in range(k, n_act_prev):
            row = w[act_prev[k]]
            for j in range(n):
                i_e[j] += row[j]
        if n_i > 0:  # -inh from every Ai spike but a neuron's own partner
            inh[:] = inh_sums[n_i]
            for k in range(n_i):
                inh[fired_i[k]] = inh_sums[n_i - 1]
            for j in range(n):
                i_e[j] = i_e[j] + inh[j]

        # 2. input layer X (its trace only matters for learning)
        n_act = _active(spikes[t], words[t], act)
        if learning:
            for i in range(n_in):
                x_x[i] = x_x[i] * trace_decay
            for k in range(n_act):
                i = act[k]
                x_x[i] = x_x[i] + one if additive else one

        # 3. excitatory layer Ae
        if learning:
            for j in range(n):
                theta[j] = theta[j] * theta_decay
        n_post = 0
        for j in range(n):
            v = (v_e[j] - rest_e) * decay_e + rest_e
            v = v + (i_e[j] if ref_e[j] <= zero else zero)  # v + 0 = v
            v_e[j] = v
            ref_e[j] = ref_e[j] - dt
            n_post += v >= thresh_e + theta[j]
        if n_post > 0:  # crossers: reset, refractory, theta (all of them)
            n_post = 0
            for j in range(n):
                if v_e[j] >= thresh_e + theta[j]:
                    post[n_post] = j
                    n_post += 1
            for k in range(n_post):
                j = post[k]
                v_e[j] = reset_e
                ref_e[j] = refrac_e
                if learning:
                    theta[j] = theta[j] + theta_plus
            if one_spike:
                post[0] = post[rng.integers(0, n_post)]
                n_post = 1
        if learning:
            for j in range(n):
                x_e[j] = x_e[j] * trace_decay
            for k in range(n_post):
                x_e[post[k]] = one

        # 4. inhibitory layer Ai (input: Ae spikes of step t-1)
        n_i = 0
        for j in range(n):
            v = (v_i[j] - rest_i) * decay_i + rest_i
            v = v + (i_i[j] if ref_i[j] <= zero else zero)
            v_i[j] = v
            ref_i[j] = ref_i[j] - dt
            n_i += v >= thresh_i
        if n_i > 0:
            n_i = 0
            for j in range(n):
                if v_i[j] >= thresh_i:
                    fired_i[n_i] = j
                    n_i += 1
                    v_i[j] = reset_i
                    ref_i[j] = refrac_i

        # 5. learning
        if learning:
            if rule == 0:
                if nu_pre != zero and n_act > 0:
                    for j in range(n):
                        tmp[j] = x_e[j] * nu_pre
                    for k in range(n_act):
                        row = w[act[k]]
                        for j in range(n):
                            row[j] = row[j] - tmp[j]
                if nu_post != zero:
                    for k in range(n_post):
                        j = post[k]
                        for i in range(n_in):
                            if x_x[i] != zero:  # else w + 0 * nu_post = w
                                w[i, j] = _fmaf(x_x[i], nu_post, w[i, j])
                if nu_pre != zero:  # clamp the updated rows
                    for k in range(n_act):
                        row = w[act[k]]
                        for j in range(n):
                            row[j] = min(max(row[j], wmin), wmax)
            elif nu_post != zero and n_post > 0:
                for i in range(n_in):
                    tmp[i] = nu_post * (x_x[i] - x_tar)
                for k in range(n_post):
                    j = post[k]
                    for i in range(n_in):
                        f = wmax - w[i, j]
                        if mu != one:
                            f = np.float32(max(f, zero) ** mu)
                        w[i, j] = w[i, j] + tmp[i] * f
            for k in range(n_post):  # clamp the updated columns
                j = post[k]
                for i in range(n_in):
                    w[i, j] = min(max(w[i, j], wmin), wmax)

        # 6. record; step t becomes t-1
        i_i[:] = zero
        for k in range(n_post):
            out[t, post[k]] = True
            i_i[post[k]] = exc
        act_prev, act = act, act_prev
        n_act_prev = n_act


@njit(cache=True)
def _infer_batch(w, theta, spikes, words, out, one_spike, rng, p, inh_sums):
    """Learning off, images one after another. spikes: uint8 [batch, steps, padded n_input]."""
    for b in range(spikes.shape[0]):
        _simulate(w, theta, spikes[b], words[b], out[b], False, 0, one_spike, rng, p, inh_sums)


class FastEngine:
    """``DiehlAndCook2015`` in numba (CPU) and batched torch (inference on CUDA).

    Same interface, parameters and model state as
    :class:`~snninfo.model.engine.BindsNETEngine`; see the module docstring for the
    update order and the deviations. ``seed`` seeds the numpy Generator of the Poisson
    encoding and of the ``one_spike`` choice.
    """

    name = "fast"

    def __init__(self, model_cfg: Mapping[str, Any], input_shape, n_neurons: int,
                 device: str | torch.device = "cpu", seed: int = 0) -> None:
        self.cfg = dict(model_cfg)
        self.input_shape = tuple(int(s) for s in input_shape)
        self.n_input = int(np.prod(self.input_shape))
        self.n_neurons = int(n_neurons)
        self.time = int(self.cfg["time"])
        self.dt = float(self.cfg["dt"])
        self.device = torch.device(device)
        # The first draw from torch's global generator, as in DiehlAndCook2015's
        # constructor: both engines start from the same weights after the same seed.
        self._w_torch = 0.3 * torch.rand(self.n_input, self.n_neurons)
        self._w = self._w_torch.numpy()  # shares memory with _w_torch
        self._theta = np.zeros(self.n_neurons, np.float32)
        self._rng = np.random.default_rng(seed)
        if self.cfg["learning_rule"] not in RULES:
            raise ValueError(f"unknown model.learning_rule {self.cfg['learning_rule']!r}")
        self._rule = RULES[self.cfg["learning_rule"]]
        self._one_spike = bool(self.cfg["one_spike"])
        self._norm = network_norm(self.cfg, self.n_input)
        self._p = _parameters(self.cfg)
        self._inh_sums = _inhibition_sums(float(self.cfg["inh"]), self.n_neurons)
        self._poisson = _poisson_tables(_mean_intervals(float(self.cfg["intensity"]), self.dt),
                                        self.time)
        self._on_device = None  # (weights, theta, inhibition sums) on self.device
        self._warned_cpu_training = False

    # -- state ---------------------------------------------------------------
    def get_state(self) -> dict[str, torch.Tensor]:
        return {"weights": torch.from_numpy(self._w.copy()),
                "theta": torch.from_numpy(self._theta.copy())}

    def set_state(self, state: Mapping[str, torch.Tensor]) -> None:
        w, theta = check_state(state, self.n_input, self.n_neurons)
        self._w[...] = torch.as_tensor(w).detach().to("cpu", torch.float32).numpy()
        self._theta[...] = torch.as_tensor(theta).detach().to("cpu", torch.float32).numpy()
        self._on_device = None

    def get_rng_state(self) -> dict[str, Any]:
        return {"numpy_generator": self._rng.bit_generator.state}

    def set_rng_state(self, state: Mapping[str, Any]) -> None:
        self._rng.bit_generator.state = state["numpy_generator"]

    # -- simulation ----------------------------------------------------------
    def encode(self, images) -> torch.Tensor:
        """uint8 images [batch, h, w] (or one [h, w]) -> uint8 spikes [batch, time, n_input]."""
        x = images.detach().cpu().numpy() if isinstance(images, torch.Tensor) else np.asarray(images)
        if x.dtype != np.uint8:
            raise TypeError(f"images must be uint8, got {x.dtype}")
        if x.ndim == 2:
            x = x[None]
        x = np.ascontiguousarray(x.reshape(x.shape[0], -1))
        if x.shape[1] != self.n_input:
            raise ValueError(f"images of {x.shape[1]} pixels; the network has {self.n_input} inputs")
        out = np.empty((x.shape[0], self.time, self.n_input), np.uint8)
        _poisson_encode(x, self.time, *self._poisson, self._rng, out)
        return torch.from_numpy(out)

    def _check(self, spikes: torch.Tensor, ndim: int) -> None:
        shape = tuple(spikes.shape)
        if len(shape) != ndim or shape[-2:] != (self.time, self.n_input):
            lead = "" if ndim == 2 else "batch, "
            raise ValueError(f"input spikes of shape {shape}; expected [{lead}{self.time}, {self.n_input}]")

    @staticmethod
    def _numpy(spikes: torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
        """uint8 spikes, last axis zero-padded to a multiple of 8, and their uint64 view."""
        x = spikes.detach().to("cpu", torch.uint8).numpy()
        pad = -x.shape[-1] % 8
        if pad:
            x = np.concatenate([x, np.zeros((*x.shape[:-1], pad), np.uint8)], axis=-1)
        x = np.ascontiguousarray(x)
        return x, x.view(np.uint64)

    def train_sample(self, spikes: torch.Tensor) -> torch.Tensor:
        """One image, learning on, then BindsNET's column normalisation of the weights."""
        self._check(spikes, 2)
        x, words = self._numpy(spikes)
        if self.device.type != "cpu" and not self._warned_cpu_training:
            log.warning("fast engine: training runs on the CPU (numba); %s is used for inference",
                        self.device)
            self._warned_cpu_training = True
        out = np.zeros((self.time, self.n_neurons), np.bool_)
        _simulate(self._w, self._theta, x, words, out, True, self._rule, self._one_spike, self._rng,
                  self._p, self._inh_sums)
        # AbstractFeature.normalize, verbatim, on the same float32 matrix.
        w = self._w_torch
        abs_sum = w.sum(0).unsqueeze(0)
        abs_sum[abs_sum == 0] = 1.0
        w *= self._norm / abs_sum
        self._on_device = None
        return torch.from_numpy(out)

    def infer(self, spikes: torch.Tensor) -> torch.Tensor:
        """A batch, learning off: numba on the CPU, batched torch on CUDA."""
        if self.device.type != "cpu":
            return self._infer_torch(spikes)
        self._check(spikes, 3)
        x, words = self._numpy(spikes)
        out = np.zeros((x.shape[0], self.time, self.n_neurons), np.bool_)
        _infer_batch(self._w, self._theta, x, words, out, self._one_spike, self._rng, self._p,
                     self._inh_sums)
        return torch.from_numpy(out)

    def _infer_torch(self, spikes: torch.Tensor) -> torch.Tensor:
        """Steps 1-4 and 6 for a whole batch as dense torch operations on ``self.device``
        (used on CUDA; runs on any device). ``one_spike`` draws from a torch Generator
        seeded from the engine's numpy Generator."""
        self._check(spikes, 3)
        dev = self.device
        if self._on_device is None:
            self._on_device = tuple(torch.from_numpy(a).to(dev)
                                    for a in (self._w, self._theta, self._inh_sums))
        w, theta, inh_sums = self._on_device
        p = {k: torch.tensor(self._p[k], device=dev) for k in range(N_PARAMS)}
        x = spikes.to(dev)
        batch = x.shape[0]
        n = self.n_neurons
        gen = None
        if self._one_spike:
            gen = torch.Generator(device=dev)
            gen.manual_seed(int(self._rng.integers(0, 2**63)))
        v_e = torch.full((batch, n), float(p[P_REST_E]), device=dev)
        ref_e = torch.zeros(batch, n, device=dev)
        v_i = torch.full((batch, n), float(p[P_REST_I]), device=dev)
        ref_i = torch.zeros(batch, n, device=dev)
        s_x = torch.zeros(batch, self.n_input, device=dev)
        s_e = torch.zeros(batch, n, dtype=torch.bool, device=dev)
        s_i = torch.zeros(batch, n, dtype=torch.bool, device=dev)
        thresh_e = p[P_THRESH_E] + theta
        out = torch.empty(batch, self.time, n, dtype=torch.bool, device=dev)
        for t in range(self.time):
            # 1. inputs from step t-1
            i_e = s_x @ w
            n_i = s_i.sum(1, keepdim=True)
            i_e = i_e + inh_sums[n_i - s_i.long()]
            i_i = s_e.float() * p[P_EXC]
            # 2. input layer (no traces needed without learning)
            s_x = x[:, t].float()
            # 3. Ae
            v_e = (v_e - p[P_REST_E]) * p[P_DECAY_E] + p[P_REST_E]
            v_e = v_e + (ref_e <= 0).float() * i_e
            ref_e = ref_e - p[P_DT]
            s_e = v_e >= thresh_e
            ref_e = torch.where(s_e, p[P_REFRAC_E], ref_e)
            v_e = torch.where(s_e, p[P_RESET_E], v_e)
            if self._one_spike:
                score = torch.where(s_e, torch.rand(batch, n, generator=gen, device=dev), -1.0)
                pick = torch.zeros_like(s_e).scatter_(1, score.argmax(1, keepdim=True), True)
                s_e = pick & s_e.any(1, keepdim=True)
            # 4. Ai
            v_i = (v_i - p[P_REST_I]) * p[P_DECAY_I] + p[P_REST_I]
            i_i = i_i.masked_fill(ref_i > 0, 0.0)
            ref_i = ref_i - p[P_DT]
            v_i = v_i + i_i
            s_i = v_i >= p[P_THRESH_I]
            ref_i = torch.where(s_i, p[P_REFRAC_I], ref_i)
            v_i = torch.where(s_i, p[P_RESET_I], v_i)
            # 6. record
            out[:, t] = s_e
        return out.cpu()
