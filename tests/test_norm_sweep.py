"""The sweeps with LayerNorm, RMSNorm, GroupNorm and weight norm beside BN and none (issue #12, "Measured")."""
from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest
from bnsym.config import load_config
from bnsym.dynamics import gradient_descent
from bnsym.errors import ConfigError, NetworkSpecError, ValuesError
from bnsym.explain import sweep_configs
from bnsym.numeric import init_mlp
from bnsym.sweep import SweepConfig, _engine, initial_parameters, run_sweep, sweep_data
from bnsym.vectorized import reference_mlp
from tests.tools import need_module

#: (norm, placement, groups) of every kind the sweeps build
KINDS = [(None, None, None), ("batch", "pre", None), ("batch", "post", None), ("layer", "pre", None),
         ("layer", "post", None), ("rms", "pre", None), ("rms", "post", None), ("group", "pre", 2),
         ("weight", None, None)]
WIDTHS = [3, 4, 4, 2]
EPS = 1e-5


def _ids(kind) -> str:
    return "-".join(str(v) for v in kind if v is not None) or "none"


def _perturbed(params: dict, seed: int) -> dict:
    """The initial point moved at random (γ ≠ 1, β ≠ 0, b ≠ 0, g ≠ ‖v‖), so every gradient term counts."""
    rng = np.random.default_rng(seed)
    return {k: v + 0.3 * rng.standard_normal(v.shape) for k, v in params.items()}


def _torch_loss(torch, kind, p: dict, x, t):
    """The same MLP written with torch.nn.functional (independently of bnsym's layers and of bnsym.torchref)."""
    F = torch.nn.functional
    norm, placement, groups = kind
    h = x
    depth = len(WIDTHS) - 1
    for k in range(1, depth + 1):
        w = p[f"W{k}"]
        if norm == "weight" and k < depth:
            w = p[f"g{k}"].reshape(-1, 1) * w / torch.sqrt((w * w).sum(dim=1, keepdim=True))
        h = F.linear(h, w, p[f"b{k}"].reshape(-1))
        if k == depth:
            break

        def normalize(z, k=k):
            n = z.shape[1]
            gamma = p[f"gamma{k}"].reshape(-1)
            beta = p[f"beta{k}"].reshape(-1) if norm != "rms" else None
            if norm == "batch":
                return F.batch_norm(z, None, None, gamma, beta, training=True, eps=EPS)
            if norm == "layer":
                return F.layer_norm(z, (n,), gamma, beta, eps=EPS)
            if norm == "rms":
                return F.rms_norm(z, (n,), gamma, eps=EPS)
            return F.group_norm(z, groups, gamma, beta, eps=EPS)

        if norm not in (None, "weight") and placement == "pre":
            h = normalize(h)
        h = torch.relu(h)
        if norm not in (None, "weight") and placement == "post":
            h = normalize(h)
    return ((h - t) ** 2).sum() / x.shape[0]


@pytest.mark.parametrize("kind", KINDS, ids=_ids)
def test_vectorized_gradients_equal_torch_autograd(kind):
    torch = need_module("torch")
    norm, placement, groups = kind
    net = reference_mlp(WIDTHS, bn=None, eps=EPS, norm=norm, placement=placement, groups=groups)
    params = _perturbed(init_mlp(WIDTHS, norm=norm, seed=3), seed=4)
    rng = np.random.default_rng(5)
    x, t = rng.standard_normal((6, WIDTHS[0])), rng.standard_normal((6, WIDTHS[-1]))
    loss, grads = net.loss_and_gradients(params, x, t)
    tp = {k: torch.tensor(v, dtype=torch.float64, requires_grad=True) for k, v in params.items()}
    theirs = _torch_loss(torch, kind, tp, torch.as_tensor(x), torch.as_tensor(t))
    theirs.backward()
    assert loss == pytest.approx(float(theirs.detach()), rel=1e-12)
    assert set(grads) == set(tp)
    for name, value in grads.items():
        np.testing.assert_allclose(value, tp[name].grad.numpy(), rtol=1e-9, atol=1e-12, err_msg=name)


@pytest.mark.parametrize("kind", KINDS, ids=_ids)
def test_init_gives_the_networks_parameters_and_the_same_weights(kind):
    norm, placement, groups = kind
    net = reference_mlp(WIDTHS, eps=EPS, norm=norm, placement=placement, groups=groups)
    params = init_mlp(WIDTHS, norm=norm, seed=7, scale=1.5)
    plain = init_mlp(WIDTHS, seed=7, scale=1.5)
    assert list(params) == net.parameter_names()
    assert all(params[k].shape == net.shapes[k] for k in params)
    for k in plain:  # the same draws, biases 0, whatever the normalization
        np.testing.assert_array_equal(params[k], plain[k])
    for name, value in params.items():
        if name.startswith("gamma"):
            assert np.all(value == 1.0)
        if name.startswith("beta"):
            assert np.all(value == 0.0)


def test_weight_norm_starts_at_the_plain_network():
    """g = ‖v_row‖: the weight-normed network's output at its init is the plain network's at the same draws."""
    x = np.random.default_rng(1).standard_normal((5, WIDTHS[0]))
    ours = reference_mlp(WIDTHS, norm="weight").output(init_mlp(WIDTHS, norm="weight", seed=2), x)
    plain = reference_mlp(WIDTHS).output(init_mlp(WIDTHS, seed=2), x)
    np.testing.assert_allclose(ours, plain, rtol=1e-12)
    g = init_mlp(WIDTHS, norm="weight", seed=2)["g2"]
    np.testing.assert_allclose(g[0], np.linalg.norm(init_mlp(WIDTHS, seed=2)["W2"], axis=1))


def test_bn_keeps_its_parameters_keys_and_records():
    assert {k: v.tolist() for k, v in init_mlp(WIDTHS, bn=True, seed=1).items()} == \
        {k: v.tolist() for k, v in init_mlp(WIDTHS, norm="batch", seed=1).items()}
    assert reference_mlp(WIDTHS, bn=True, eps=EPS) is _engine(SweepConfig(depth=3, bn=True, width=4, inputs=3,
                                                                           outputs=2))
    first = {"depth", "bn", "scale", "seed", "width", "inputs", "batch", "steps", "activation", "eps", "gain",
             "backend", "train_fraction"}
    for bn in (False, True):
        cfg = SweepConfig(depth=3, bn=bn)
        assert set(cfg.record()) == first and cfg.key() == json.dumps(cfg.record(), sort_keys=True)
        assert SweepConfig(depth=3, bn=bn, norm="batch").key() == cfg.key()
    # without BN the norm is unused: the same network, the same key; with BN it is recorded
    assert SweepConfig(depth=3, norm="layer").key() == SweepConfig(depth=3).key()
    assert SweepConfig(depth=3, bn=True, norm="layer").record()["norm"] == "layer"
    assert SweepConfig(depth=3, bn=True, norm="layer").key() != SweepConfig(depth=3, bn=True).key()


@pytest.mark.parametrize("norm, groups", [("layer", None), ("rms", None), ("weight", None), ("group", 2)])
def test_a_tiny_sweep_per_kind_gives_finite_records_and_resumes(tmp_path, norm, groups):
    cfg = SweepConfig(depth=3, bn=True, norm=norm, groups=groups, steps=15, batch=8, width=4, train_fraction=0.5)
    grid = [1e-3, 1e-2, 0.1, 1.0, 1e3]
    path = tmp_path / "sweep.jsonl"
    (record,) = run_sweep([cfg], grid, results=path, workers=1, progress=False)
    assert record["config"]["norm"] == norm and record["largest_stable"] in grid
    assert record["runs"][0]["lr"] == 1e3 and record["runs"][0]["diverged"]
    stable = [r for r in record["runs"] if not r["diverged"]]
    assert stable and all(np.isfinite(r["final_loss"]) for r in stable)
    assert sorted(initial_parameters(cfg)) == sorted(_engine(cfg).parameter_names())
    lines = path.read_text().splitlines()
    again = run_sweep([cfg], grid, results=path, workers=1, progress=False)
    assert again == [record] and path.read_text().splitlines() == lines  # resumed, not run again


@pytest.mark.parametrize("norm, placement, groups", [("layer", "post", None), ("rms", "pre", None),
                                                     ("weight", "pre", None), ("group", "pre", 2)])
def test_the_torch_rerun_builds_the_same_network(norm, placement, groups):
    need_module("torch")
    from bnsym.torchref import torch_gradient_descent

    cfg = SweepConfig(depth=3, bn=True, norm=norm, placement=placement, groups=groups, steps=6, batch=8, width=4,
                      seed=2)
    x, t = sweep_data(cfg)
    params = initial_parameters(cfg)
    theirs, diverged = torch_gradient_descent(cfg, params, x, t, 0.02)
    ours = gradient_descent(_engine(cfg), params, x, t, lr=0.02, steps=cfg.steps)
    assert not diverged and len(theirs) == cfg.steps + 1
    np.testing.assert_allclose(theirs, ours.loss, rtol=1e-10)
    assert theirs[-1] != theirs[0]  # it trained: the rerun moves the same parameters


def test_the_torch_rerun_refuses_a_kind_it_does_not_build():
    need_module("torch")
    from bnsym.torchref import torch_gradient_descent

    cfg = SweepConfig(depth=2, bn=True, norm="instance", steps=2, batch=4)
    with pytest.raises(ValuesError, match="backend='torch' builds the normalizations"):
        torch_gradient_descent(cfg, init_mlp(cfg.widths, seed=0), *sweep_data(cfg), 0.1)


def test_unknown_kinds_are_refused():
    with pytest.raises(NetworkSpecError, match="norm"):
        _engine(SweepConfig(depth=2, bn=True, norm="bogus"))
    with pytest.raises(ValuesError, match="init_mlp knows the normalizations"):
        init_mlp(WIDTHS, norm="bogus")
    with pytest.raises(ValuesError, match="bn=True means norm='batch'"):
        init_mlp(WIDTHS, bn=True, norm="layer")
    with pytest.raises(NetworkSpecError, match="placement means nothing"):
        reference_mlp(WIDTHS, norm="weight", placement="pre")


@pytest.mark.parametrize("kind", ["layer", "rms", "weight"])
def test_the_config_passes_the_kind_to_the_sweeps(tmp_path, kind):
    path = tmp_path / "explain.toml"
    path.write_text(f'preset = "quick"\n[network]\nnormalization = "{kind}"\n', encoding="utf-8")
    settings = load_config(path).settings
    assert dict(settings.options)["norm"] == kind
    configs = sweep_configs(settings)
    assert {c.normalization for c in configs} == {None, kind}
    assert all(sorted(initial_parameters(c)) == sorted(_engine(c).parameter_names()) for c in configs)
    tiny = dataclasses.replace(settings, depths=(2,), seeds=(0,), scales=(), steps=5)
    records = run_sweep(sweep_configs(tiny), [1e-2], workers=1, progress=False)
    assert {r["config"].get("norm") for r in records} == {None, kind}


def test_the_config_refuses_what_it_cannot_build(tmp_path):
    path = tmp_path / "explain.toml"
    path.write_text('[network]\nnormalization = "weight"\nplacement = "post"\n', encoding="utf-8")
    with pytest.raises(ConfigError, match="line 3: weight normalization reparametrizes"):
        load_config(path)
    path.write_text('[network]\nnormalization = "instance"\n', encoding="utf-8")
    with pytest.raises(ConfigError, match="normalization 'instance' cannot be built yet"):
        load_config(path)
    # one sample per step leaves BN no batch, but LayerNorm normalizes each sample alone
    minibatch = '[optimizer]\nkind = "sgd"\nminibatch = 1\n'
    path.write_text(minibatch, encoding="utf-8")
    with pytest.raises(ConfigError, match="leaves batch normalization no batch"):
        load_config(path)
    path.write_text('[network]\nnormalization = "layer"\n' + minibatch, encoding="utf-8")
    assert dict(load_config(path).settings.options)["minibatch"] == 1


def test_the_benchmark_prints_a_row_per_depth_and_a_rate_per_kind():
    import re
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    done = subprocess.run([sys.executable, str(root / "benchmarks" / "bench_norm_sweep.py"), "--depths", "2", "3",
                           "--seeds", "1", "--steps", "5"], cwd=root, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "none" in done.stdout and "weight" in done.stdout
    rows = [line.split() for line in done.stdout.splitlines() if re.match(r"\s+[23]\s", line)]
    assert [row[0] for row in rows] == ["2", "3"]
    assert all(len(row) == 1 + 3 * 5 and row[2::3] == ["/"] * 5 for row in rows)  # stable / training per kind
