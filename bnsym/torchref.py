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


def torch_gradient_descent(config: SweepConfig, params: dict, x: np.ndarray, t: np.ndarray,
                           lr: float) -> tuple[list[float], bool]:
    """The same run with PyTorch autograd (``nn.Linear``, ``nn.BatchNorm1d``, ``torch.optim``), float64.

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
    layers: list[torch.nn.Module] = []
    widths = config.widths
    with torch.no_grad():
        for k in range(1, len(widths)):
            lin = torch.nn.Linear(widths[k - 1], widths[k]).double()
            lin.weight.copy_(torch.as_tensor(params[f"W{k}"]))
            lin.bias.copy_(torch.as_tensor(params[f"b{k}"][0]))
            layers.append(lin)
            if k < len(widths) - 1:
                hidden = [activations[config.activation]()]
                if config.bn:
                    bn = torch.nn.BatchNorm1d(widths[k], eps=config.eps).double()
                    bn.weight.copy_(torch.as_tensor(params[f"gamma{k}"][0]))
                    bn.bias.copy_(torch.as_tensor(params[f"beta{k}"][0]))
                    hidden.insert(0 if config.placement == "pre" else 1, bn)
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
