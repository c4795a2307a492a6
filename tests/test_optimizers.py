"""The optimizers of bnsym.optimizers against torch.optim on the same network, data and minibatches."""
from __future__ import annotations

import numpy as np
import pytest

from bnsym.dynamics import gradient_descent, reference_data
from bnsym.errors import ValuesError
from bnsym.numeric import init_mlp
from bnsym.optimizers import Optimizer, minibatches, train
from bnsym.sweep import SweepConfig, _engine, largest_stable_lr
from bnsym.torchref import torch_gradient_descent


@pytest.mark.parametrize("kind, minibatch, placement", [("gd", None, "pre"), ("sgd", 4, "pre"),
                                                         ("momentum", 4, "post"), ("adam", None, "post"),
                                                         ("adam", 2, "pre")])
def test_each_optimizer_matches_torch_optim(torch, kind, minibatch, placement):
    config = SweepConfig(depth=3, bn=True, steps=12, batch=8, optimizer=kind, minibatch=minibatch,
                         placement=placement, seed=1)
    x, t = reference_data(batch=8)
    params = init_mlp(config.widths, bn=True, seed=1)
    ours, diverged = train(_engine(config), params, x, t, config.optimizer_rule, lr=0.05, steps=config.steps,
                           seed=config.seed)
    theirs, torch_diverged = torch_gradient_descent(config, params, x, t, 0.05)
    assert not diverged and not torch_diverged
    assert np.allclose(ours, theirs, rtol=1e-9, atol=1e-12)
    assert ours[-1] != ours[0]


def test_train_with_gd_is_gradient_descent():
    x, t = reference_data(batch=8)
    net, params = _engine(SweepConfig(depth=3, bn=True)), init_mlp([2, 8, 8, 1], bn=True)
    assert train(net, params, x, t, Optimizer(), lr=0.1, steps=10)[0] == \
        gradient_descent(net, params, x, t, lr=0.1, steps=10).loss


def test_minibatches_cover_each_epoch_once():
    batches = minibatches(10, 3, 9, seed=2)
    assert len(batches) == 9 and all(len(b) == 3 for b in batches)
    for epoch in range(3):  # 3 minibatches per epoch (the 10th sample waits for the next permutation)
        seen = np.concatenate(batches[3 * epoch:3 * epoch + 3])
        assert len(set(seen.tolist())) == 9
    assert [b.tolist() for b in batches] != [b.tolist() for b in minibatches(10, 3, 9, seed=3)]


def test_bad_optimizer_settings_are_values_errors():
    for kwargs in ({"kind": "sgd", "minibatch": 0}, {"kind": "momentum", "momentum": 1.0},
                   {"kind": "adam", "epsilon": 0.0}, {"kind": "gd", "minibatch": 2}):
        with pytest.raises(ValuesError):
            Optimizer(**kwargs)
    with pytest.raises(ValuesError, match="larger than the batch"):
        largest_stable_lr(SweepConfig(depth=2, steps=2, batch=4, optimizer="sgd", minibatch=8), [0.1])
