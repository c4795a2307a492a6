"""``bnsym explain --config``: the TOML file, its checks, the files it names, and the executor option."""
from __future__ import annotations

import dataclasses
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
from bnsym.config import SCHEMA, ExplainConfig, load_config
from bnsym.errors import ConfigError
from bnsym.explain import ExplainSettings, sweep_configs
from bnsym.numeric import init_mlp
from bnsym.sweep import SweepConfig, initial_parameters, largest_stable_lr, run_sweep, sweep_data
from bnsym.vectorized import reference_mlp
from tests.tools import need_module

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "explain.toml"
#: the SweepConfig fields before configurable experiments: a default record still has exactly these
FIRST_FIELDS = {"depth", "bn", "scale", "seed", "width", "inputs", "batch", "steps", "activation", "eps", "gain",
                "backend", "train_fraction"}


def write(tmp_path, text: str, name: str = "explain.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def sweep(settings: ExplainSettings, **options) -> list[dict]:
    return run_sweep(sweep_configs(settings), settings.lrs, workers=1, progress=False, **options)


def test_the_example_file_is_todays_default_settings():
    assert load_config(EXAMPLE).settings == ExplainSettings()
    text = EXAMPLE.read_text()
    for section, keys in SCHEMA.items():  # the example documents every key
        assert section == "" or f"[{section}]" in text
        for key in keys:
            assert f"{key} =" in text, key


def test_a_default_config_gives_todays_sweep_records(tmp_path):
    quick = ExplainSettings.tiny()
    spelled = write(tmp_path, EXAMPLE.read_text().replace('preset = "default"', 'preset = "quick"'))
    config = load_config(write(tmp_path, 'preset = "quick"\n', "empty.toml"))
    assert config.settings == quick
    records = sweep(quick)
    assert sweep(config.settings) == records
    # the example's keys spelled out, with the quick preset's grid, depths and steps in place of the default's
    keys = ("depths", "seeds", "scales", "scale_depth", "lrs", "steps", "batch", "curve_depth", "hessian_depths",
            "goodfellow_depth", "torch_seeds", "cap_seeds", "workers", "progress", "pdf")
    tiny = dataclasses.replace(load_config(spelled).settings, **{k: getattr(quick, k) for k in keys})
    assert tiny == quick and sweep(tiny) == records
    assert all(set(r["config"]) == FIRST_FIELDS for r in records)  # older results files still resume


@pytest.mark.parametrize("text, message", [
    ("[network]\nwidht = 8\n", "line 2: unknown key 'network.widht'"),
    ("[sweep]\nsteps = 20\n[netwrk]\nwidth = 3\n", "line 3: unknown section or key 'netwrk'"),
    ("[sweep]\ndepths = [2, 'x']\n", "line 2: sweep.depths must be a list of an integer >= 1"),
    ("[sweep]\nsteps = true\n", "sweep.steps must be an integer >= 1, got True"),
    ("[optimizer]\nmomentum = 1.5\n", "optimizer.momentum must be a finite number < 1"),
    ("[sweep]\nlrs = [0.1]\nlr_grid = { low = 0.1, high = 1.0, count = 3 }\n", "either sweep.lrs or sweep.lr_grid"),
    ("[sweep]\nlr_grid = { low = 1.0, high = 0.1, count = 3 }\n", "low < high"),
    ("[sweep\nsteps = 2\n", "is not valid TOML"),
    ("[network]\nnormalization = \"group\"\n", "line 2: normalization 'group' cannot be built yet ("),
    ("[network]\nactivation = \"swish\"\n", "network.activation must be one of 'relu'"),
    ("[optimizer]\nkind = \"gd\"\nminibatch = 4\n", "optimizer 'gd' is full-batch"),
    ("[optimizer]\nkind = \"sgd\"\nminibatch = 64\n", "minibatch (64) is larger than the batch (32 samples)"),
    ("[network]\nwidth = 100000\n", "explain.toml: "),
])
def test_bad_files_name_the_key_the_file_and_the_line(tmp_path, text, message):
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert message in str(info.value) and str(path) in str(info.value)


def test_unreadable_files_are_config_errors(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(tmp_path / "missing.toml")
    (tmp_path / "bad.toml").write_bytes(b"\xff\xfe[")
    with pytest.raises(ConfigError, match="cannot read"):
        load_config(tmp_path / "bad.toml")


def test_a_data_file_replaces_the_reference_set(tmp_path):
    rng = np.random.default_rng(5)
    x = rng.standard_normal((12, 3))
    np.savez(tmp_path / "data.npz", x=x, t=np.sin(x[:, :2]))
    text = 'preset = "quick"\n[data]\nsource = "data.npz"\n[sweep]\ntorch = false\n'
    settings = load_config(write(tmp_path, text)).settings
    assert settings.batch == 12 and dict(settings.options)["inputs"] == 3 and dict(settings.options)["outputs"] == 2
    configs = sweep_configs(settings)
    got_x, got_t = sweep_data(configs[0])
    assert np.array_equal(got_x, x) and got_t.shape == (12, 2)
    with_bn = next(c for c in configs if c.bn)
    record = largest_stable_lr(with_bn, settings.lrs)
    start = reference_mlp(with_bn.widths, bn=True, eps=with_bn.eps).loss(initial_parameters(with_bn), x,
                                                                          np.sin(x[:, :2]))
    assert record["runs"][0]["initial_loss"] == pytest.approx(start, rel=1e-12)
    assert record["config"]["data_digest"] and record["config"]["outputs"] == 2


@pytest.mark.parametrize("arrays, message", [
    (dict(x=np.ones((4, 2)), t=np.full((4, 1), np.nan)), "'t' is not finite"),
    (dict(x=np.ones((4, 2)), t=np.ones((3, 1))), "must hold x of shape (samples, inputs)"),
    (dict(x=np.ones(4), t=np.ones(4)), "must hold x of shape"),
    (dict(x=np.ones((4, 2))), "missing t"),
    (dict(x=np.ones((4, 2)), t=np.ones((4, 1)), w=np.ones(1)), "unexpected w"),
    (dict(x=np.array([["a", "b"]] * 4), t=np.ones((4, 1))), "must be real numbers"),
    (dict(x=np.array([[None, 1]] * 4, dtype=object), t=np.ones((4, 1))), "not a readable .npz"),  # needs pickle
])
def test_bad_data_files_are_refused(tmp_path, arrays, message):
    np.savez(tmp_path / "data.npz", **arrays)
    with pytest.raises(ConfigError) as info:
        load_config(write(tmp_path, '[data]\nsource = "data.npz"\n'))
    assert message in str(info.value)


def test_a_data_file_that_is_not_an_npz(tmp_path):
    (tmp_path / "data.npz").write_text("x,t\n1,2\n")
    with pytest.raises(ConfigError, match="not a readable .npz"):
        load_config(write(tmp_path, '[data]\nsource = "data.npz"\n'))
    with pytest.raises(ConfigError, match="data.batch comes from the data file"):
        load_config(write(tmp_path, '[data]\nsource = "data.npz"\nbatch = 8\n'))


def test_initial_parameters_from_a_file(tmp_path):
    params = init_mlp([2, 8, 8, 1], bn=True, seed=42)
    params["gamma1"] = params["gamma1"] * 3.0
    np.savez(tmp_path / "init.npz", **params)
    text = ('preset = "quick"\n[sweep]\ndepths = [3]\ntorch = false\n'
            '[init]\nscales = []\nparameters = "init.npz"\n')
    configs = sweep_configs(load_config(write(tmp_path, text)).settings)
    with_bn = next(c for c in configs if c.bn)
    without = next(c for c in configs if not c.bn)
    assert all(np.array_equal(initial_parameters(with_bn)[k], v) for k, v in params.items())
    assert sorted(initial_parameters(without)) == ["W1", "W2", "W3", "b1", "b2", "b3"]
    with pytest.raises(ConfigError, match="exactly one depth"):
        load_config(write(tmp_path, text.replace("depths = [3]", "depths = [2, 3]")))
    np.savez(tmp_path / "init.npz", **{**params, "W2": np.ones((3, 3))})
    with pytest.raises(ConfigError, match=r"must be the arrays W1 \(8, 2\)"):
        load_config(write(tmp_path, text))


def test_the_training_rule_and_the_divergence_rule(tmp_path):
    settings = load_config(write(tmp_path, '[sweep]\ntrain_fraction = 0.25\ndivergence_factor = 10.0\n')).settings
    assert settings.train_fraction == 0.25 and dict(settings.options) == {"divergence_factor": 10.0}
    config = sweep_configs(settings)[0]
    assert config.train_fraction == 0.25 and config.divergence_factor == 10.0
    lrs = [1e-3, 1e-2, 1e-1, 1.0, 3.0]
    base = SweepConfig(depth=3, steps=30, batch=8)
    plain = largest_stable_lr(base, lrs)
    tight = largest_stable_lr(dataclasses.replace(base, divergence_factor=1.0 + 1e-9), lrs)
    assert tight["largest_stable"] is not None and tight["largest_stable"] <= plain["largest_stable"]
    assert tight["key"] != plain["key"] and tight["config"]["divergence_factor"] == 1.0 + 1e-9
    with pytest.raises(ConfigError, match="sweep.train_fraction must be a finite number > 0 < 1"):
        load_config(write(tmp_path, "[sweep]\ntrain_fraction = 1.5\n"))


@pytest.mark.parametrize("kind", ["sgd", "momentum", "adam"])
def test_optimizers_sweep_and_change_the_record(kind):
    config = SweepConfig(depth=2, bn=True, steps=15, batch=8, optimizer=kind, minibatch=4, placement="post")
    record = largest_stable_lr(config, [1e-2, 1e-1])
    assert record["config"]["optimizer"] == kind and record["config"]["placement"] == "post"
    assert record["key"] != SweepConfig(depth=2, bn=True, steps=15, batch=8).key()
    assert record["runs"][0]["steps_run"] == 15 or record["runs"][0]["diverged"]


def test_any_executor_gives_the_default_records():
    settings = dataclasses.replace(ExplainSettings.tiny(), depths=(2,), scales=())
    with ThreadPoolExecutor(max_workers=2) as pool:
        assert sweep(settings, executor=pool) == sweep(settings)


def test_a_dask_cluster_gives_the_default_records():
    distributed = need_module("distributed", "pip install -e '.[test]' installs dask.distributed")
    settings = dataclasses.replace(ExplainSettings.tiny(), depths=(2,), scales=())
    with distributed.LocalCluster(n_workers=1, threads_per_worker=2, processes=False, dashboard_address=None) \
            as cluster, distributed.Client(cluster) as client:
        remote = sweep(settings, executor=client.get_executor())
    assert remote == sweep(settings)


def test_run_explain_takes_a_config():
    pytest.importorskip("matplotlib")
    from bnsym.explain import run_explain
    from bnsym.errors import BnsymError

    with pytest.raises(BnsymError, match="either settings or config"):
        run_explain(ExplainSettings.tiny(), config=ExplainConfig.default(quick=True))
    none = dataclasses.replace(ExplainSettings.tiny(), normalized=(False,))
    with pytest.raises(BnsymError, match="without and with normalization"):
        run_explain(config=ExplainConfig(none))


def test_the_docs_show_the_example_file_whole():
    docs = (Path(__file__).resolve().parent.parent / "docs" / "explain.md").read_text(encoding="utf-8")
    assert "```toml\n" + EXAMPLE.read_text(encoding="utf-8") + "```" in docs
    for section in SCHEMA:
        assert section == "" or f"**`[{section}]`**" in docs


def test_the_line_is_found_for_dotted_and_top_level_keys(tmp_path):
    for text, message in [("preset = 'quick'\nsweep.stpes = 3\n", "line 2: unknown key 'sweep.stpes'"),
                          ("# a comment\nsteps = 3\n", "line 2: unknown section or key 'steps'"),
                          ("[report]\npdf = false\n\n[optimizer]\nkind = 3\n", "line 5: optimizer.kind must be")]:
        with pytest.raises(ConfigError) as info:
            load_config(write(tmp_path, text))
        assert message in str(info.value)
