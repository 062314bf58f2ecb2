"""Config schema, validation errors, documentation and packaging consistency."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest
import yaml

from snninfo import config as C

ROOT = Path(__file__).resolve().parents[1]


def _leaf_keys(schema: dict, prefix: str = "") -> list[str]:
    keys = []
    for name, sub in schema.get("properties", {}).items():
        full = f"{prefix}{name}"
        if sub.get("type") == "object" and "properties" in sub:
            keys.extend(_leaf_keys(sub, full + "."))
        else:
            keys.append(full)
    return keys


def test_workflow_schema_is_the_package_schema():
    wf = ROOT / "workflow" / "schemas" / "config.schema.yaml"
    assert wf.resolve().read_text() == C.load_schema_text()
    schema = yaml.safe_load(wf.read_text())
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"


def test_defaults_are_the_paper_code_values():
    cfg = C.validate({})
    m = cfg["model"]
    assert (m["time"], m["dt"], m["intensity"], m["exc"], m["inh"]) == (250, 1.0, 128.0, 22.5, 120.0)
    assert m["theta_plus"] == 0.05 and m["tc_theta_decay"] == 1e7 and m["nu"] == [1e-4, 1e-2]
    assert m["learning_rule"] == "postpre" and m["one_spike"] is True
    assert cfg["training"]["update_interval"] == 250 and cfg["training"]["epochs"] == 1
    assert cfg["information"]["lags"] == [0, 1]


@pytest.mark.parametrize("path", ["config/config.yaml", "config/test/config.yaml"])
def test_shipped_configs_validate(path):
    cfg = C.load(ROOT / path)
    assert cfg["datasets"]


def test_main_config_is_the_full_paper_experiment():
    cfg = C.load(ROOT / "config/config.yaml")
    assert cfg["datasets"] == ["mnist", "fashion_mnist", "cifar10"]
    assert cfg["network_sizes"] == [100] and cfg["seeds"] == [0]
    assert cfg["data"]["n_train"] is None and cfg["data"]["n_test"] is None
    assert cfg["data"]["accept_checksum_mismatch"] == []


@pytest.mark.parametrize(
    "bad, key",
    [
        ({"datasets": ["mnist", "svhn"]}, "datasets[1]"),
        ({"network_sizes": [0]}, "network_sizes[0]"),
        ({"seeds": "0"}, "seeds"),
        ({"data": {"n_train": 0}}, "data.n_train"),
        ({"data": {"mirorr": "x"}}, "data.mirorr"),
        ({"model": {"time": 2.5}}, "model.time"),
        ({"model": {"learning_rule": "hebb"}}, "model.learning_rule"),
        ({"model": {"tc_theta_decay": "slow"}}, "model.tc_theta_decay"),
        ({"model": {"one_spike": "maybe"}}, "model.one_spike"),
        ({"seeds": ["1.5"]}, "seeds[0]"),
        ({"model": {"wmin": 1.0, "wmax": 0.5}}, "model.wmax"),
        ({"information": {"alpha": 1.5}}, "information.alpha"),
        ({"information": {"lags": [0, 300]}}, "information.lags"),
        ({"unknown_section": {}}, "unknown_section"),
    ],
)
def test_invalid_config_names_the_key(bad, key):
    with pytest.raises(C.ConfigError) as err:
        C.validate(bad, source="my.yaml")
    msg = str(err.value)
    assert f"'{key}'" in msg and "my.yaml" in msg


def test_command_line_strings_are_typed_by_the_schema():
    # what Snakemake's --config delivers: every scalar a string
    cfg = C.validate({
        "seeds": ["0", "1"], "network_sizes": ["100"],
        "data": {"mirror": "null", "n_train": "200", "timeout": "5"},
        "model": {"tc_theta_decay": "1e7", "nu": ["1e-4", "0.01"], "one_spike": "false",
                  "learning_rule": "diehl_cook"},
        "information": {"alpha": "0.1", "lags": ["0", "1"]},
    })
    assert cfg["seeds"] == [0, 1] and cfg["network_sizes"] == [100]
    assert cfg["data"]["mirror"] is None and cfg["data"]["n_train"] == 200 and cfg["data"]["timeout"] == 5.0
    assert cfg["model"]["tc_theta_decay"] == 1e7 and cfg["model"]["nu"] == [1e-4, 1e-2]
    assert cfg["model"]["one_spike"] is False and cfg["model"]["learning_rule"] == "diehl_cook"
    assert cfg["information"]["alpha"] == 0.1 and cfg["information"]["lags"] == [0, 1]
    # a string is kept where the schema wants one
    assert C.validate({"data": {"mirror": "123"}})["data"]["mirror"] == "123"


def test_config_file_errors(tmp_path):
    with pytest.raises(C.ConfigError, match="not found"):
        C.load(tmp_path / "missing.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("datasets: [mnist\n")
    with pytest.raises(C.ConfigError, match="bad.yaml.*not valid YAML"):
        C.load(bad)
    lst = tmp_path / "list.yaml"
    lst.write_text("- 1\n- 2\n")
    with pytest.raises(C.ConfigError, match="mapping"):
        C.load(lst)


def test_inline_json_and_overrides():
    cfg = C.load_cli('{"model": {"time": 50}}', {"simulation": {"threads": 2}})
    assert cfg["model"]["time"] == 50 and cfg["simulation"]["threads"] == 2
    assert cfg["model"]["exc"] == 22.5  # defaults filled
    with pytest.raises(C.ConfigError, match="inline JSON"):
        C.load_cli("{not json")


def test_config_readme_documents_every_key():
    text = (ROOT / "config" / "README.md").read_text()
    documented = set(re.findall(r"`([a-z_]+(?:\.[a-z_]+)?)`", text))
    missing = [k for k in _leaf_keys(C.load_schema()) if k not in documented]
    assert not missing, f"config/README.md does not describe: {missing}"


def test_environment_yml_matches_pyproject():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    wanted = set(project["dependencies"]) | set(project["optional-dependencies"]["test"])
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    pip = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict) and "pip" in d)
    listed = {p for p in pip if not p.startswith("-")}
    assert listed == wanted
    assert "--editable .[test]" in pip
    assert "pip" in env["dependencies"]
    py = next(d for d in env["dependencies"] if isinstance(d, str) and d.startswith("python"))
    assert py.replace("python", "") == project["requires-python"]
