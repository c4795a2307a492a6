"""The PyTorch reference run of a sweep configuration (``backend="torch"`` of :mod:`bnsym.sweep`).

Same network, initial point, data, optimizer, minibatches and divergence rule as bnsym's own run, built from
``torch.nn`` modules and ``torch.optim``, so that the largest stable learning rates can be compared.

>>> torch_gradient_descent.__name__
'torch_gradient_descent'
"""
from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from .errors import ValuesError
from .optimizers import minibatches

if TYPE_CHECKING:
    from .sweep import SweepConfig

__all__ = ["torch_gradient_descent"]

#: the normalizations the PyTorch rerun builds (``None``: none)
_KINDS = (None, "batch", "layer", "rms", "group", "weight")


def _norm_module(torch, config: SweepConfig, params: dict, k: int):
    """The torch module of hidden layer ``k``'s normalization with its affine step, loaded from ``params``:
    ``BatchNorm1d``, ``LayerNorm``, ``GroupNorm`` (``γ, β``) or ``RMSNorm`` (``γ`` only)."""
    width, eps = config.widths[k], config.eps
    kind = config.normalization
    module: torch.nn.Module
    if kind == "batch":
        module = torch.nn.BatchNorm1d(width, eps=eps)
    elif kind == "layer":
        module = torch.nn.LayerNorm(width, eps=eps)
    elif kind == "group":
        module = torch.nn.GroupNorm(config.groups, width, eps=eps)
    else:
        module = torch.nn.RMSNorm(width, eps=eps)
    module = module.double()
    module.weight.copy_(torch.as_tensor(params[f"gamma{k}"][0]))
    if kind != "rms":
        module.bias.copy_(torch.as_tensor(params[f"beta{k}"][0]))
    return module


def _weight_normed(torch, lin, direction, magnitude):
    """``lin`` with weight norm over its inputs (``weight_norm(…, dim=0)``: ``W = g v/‖v‖`` per output row), its
    direction ``v`` and magnitude ``g`` set from the arrays (so the trained parameters are ``v`` and ``g``)."""
    lin = torch.nn.utils.parametrizations.weight_norm(lin, name="weight", dim=0)
    weight = lin.parametrizations.weight
    weight.original0.copy_(torch.as_tensor(magnitude).reshape(-1, 1))
    weight.original1.copy_(torch.as_tensor(direction))
    return lin


def torch_gradient_descent(config: SweepConfig, params: dict, x: np.ndarray, t: np.ndarray,
                           lr: float) -> tuple[list[float], bool]:
    """The same run with PyTorch autograd (``nn.Linear``, ``nn.BatchNorm1d``, ``torch.optim``), float64.

    The configuration's normalization (:attr:`~bnsym.sweep.SweepConfig.normalization`) is torch's own module:
    ``nn.LayerNorm``, ``nn.RMSNorm``, ``nn.GroupNorm``, or ``torch.nn.utils.parametrizations.weight_norm``
    (``dim=0``) on the hidden ``nn.Linear`` layers.

    ``params`` (from :func:`~bnsym.numeric.init_mlp`) are loaded into the torch modules, so both runs start
    from the same point; BN's placement, the optimizer (``SGD``, ``SGD(momentum=…)``, ``Adam``), the
    minibatches (:func:`~bnsym.optimizers.minibatches`) and the divergence rule are the configuration's, as in
    bnsym's run. Returns the full-batch losses and whether the run diverged.

    >>> import pytest; torch = pytest.importorskip("torch")  # (this example needs PyTorch)
    >>> from bnsym.dynamics import gradient_descent, reference_data
    >>> from bnsym.numeric import init_mlp
    >>> from bnsym.sweep import SweepConfig, _engine
    >>> cfg = SweepConfig(depth=2, bn=True, steps=3, batch=8)
    >>> x, t = reference_data(batch=8)
    >>> params = init_mlp(cfg.widths, bn=True)
    >>> losses, diverged = torch_gradient_descent(cfg, params, x, t, 0.1)
    >>> ours = gradient_descent(_engine(cfg), params, x, t, lr=0.1, steps=cfg.steps)  # bnsym's own run
    >>> len(losses), diverged, np.allclose(losses, ours.loss, rtol=1e-10)
    (4, False, True)
    """
    try:
        import torch
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ValuesError("backend='torch' needs PyTorch: pip install 'bnsym[torch]'") from exc
    torch.set_num_threads(1)
    activations = {"relu": torch.nn.ReLU, "sigmoid": torch.nn.Sigmoid, "tanh": torch.nn.Tanh,
                   "identity": torch.nn.Identity}
    kind = config.normalization
    if kind not in _KINDS:
        raise ValuesError(f"backend='torch' builds the normalizations {', '.join(map(repr, _KINDS))}; "
                          f"got norm={kind!r}")
    layers: list[torch.nn.Module] = []
    widths = config.widths
    with torch.no_grad():
        for k in range(1, len(widths)):
            hidden_layer = k < len(widths) - 1
            lin = torch.nn.Linear(widths[k - 1], widths[k]).double()
            lin.weight.copy_(torch.as_tensor(params[f"W{k}"]))
            lin.bias.copy_(torch.as_tensor(params[f"b{k}"][0]))
            if kind == "weight" and hidden_layer:
                lin = _weight_normed(torch, lin, params[f"W{k}"], params[f"g{k}"])
            layers.append(lin)
            if hidden_layer:
                hidden = [activations[config.activation]()]
                if kind not in (None, "weight"):
                    hidden.insert(0 if config.placement == "pre" else 1, _norm_module(torch, config, params, k))
                layers += hidden
    net = torch.nn.Sequential(*layers).train()
    rule = config.optimizer_rule
    opt: torch.optim.Optimizer
    if rule.kind == "adam":
        opt = torch.optim.Adam(net.parameters(), lr=lr, betas=(rule.beta1, rule.beta2), eps=rule.epsilon)
    else:
        opt = torch.optim.SGD(net.parameters(), lr=lr, momentum=rule.momentum if rule.kind == "momentum" else 0.0)
    X, T = torch.as_tensor(x), torch.as_tensor(t)
    batches = minibatches(X.shape[0], rule.minibatch, config.steps, config.seed)

    def mse(inputs, targets):
        return torch.nn.functional.mse_loss(net(inputs), targets, reduction="sum") / inputs.shape[0]

    losses: list[float] = []
    bound = None
    for step in range(config.steps + 1):
        opt.zero_grad()
        loss = mse(X, T)
        value = float(loss.detach())
        losses.append(value)
        if bound is None:
            bound = config.divergence_factor * max(value, 1.0)
        if not np.isfinite(value) or value > bound:
            return losses, True
        if step == config.steps:
            break
        if rule.stochastic:
            opt.zero_grad()
            rows = torch.as_tensor(batches[step])
            loss = mse(X[rows], T[rows])
        loss.backward()
        opt.step()
    return losses, False
