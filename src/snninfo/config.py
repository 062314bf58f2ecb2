"""Configuration: loading, default filling and validation against the JSON Schema.

The schema (``snninfo/schemas/config.schema.yaml``, also reachable as
``workflow/schemas/config.schema.yaml``) is the single source of truth for keys,
types, allowed values and defaults. Errors name the offending key.
"""

from __future__ import annotations

import copy
import json
from importlib import resources
from pathlib import Path
from typing import Any, Mapping

import yaml

SCHEMA_RESOURCE = "schemas/config.schema.yaml"


class ConfigError(ValueError):
    """Invalid configuration; the message names the key and the value."""


def load_schema_text() -> str:
    return resources.files("snninfo").joinpath(SCHEMA_RESOURCE).read_text()


def load_schema() -> dict:
    return yaml.safe_load(load_schema_text())


def _key_path(path) -> str:
    parts = []
    for p in path:
        if isinstance(p, int):
            parts.append(f"[{p}]")
        else:
            parts.append(("." if parts else "") + str(p))
    return "".join(parts) or "<top level>"


def _fill_defaults(instance: Any, schema: Mapping) -> Any:
    """Recursively insert schema defaults for missing object properties."""
    if not isinstance(instance, dict) or schema.get("type") != "object":
        return instance
    for key, sub in schema.get("properties", {}).items():
        if key not in instance and "default" in sub:
            instance[key] = copy.deepcopy(sub["default"])
        if key in instance:
            instance[key] = _fill_defaults(instance[key], sub)
    return instance


_YAML_SCALARS = {"integer", "number", "boolean", "null"}


def coerce_strings(instance: Any, schema: Mapping | None = None) -> Any:
    """Type command-line strings as the schema expects.

    Snakemake reads ``--config key=value`` with YAML's BaseLoader, so every scalar inside
    a value arrives as a string (``seeds=[0,1]`` gives ``['0', '1']``). Where the schema
    wants a number, boolean or null, such a string is parsed as YAML; anything that does
    not parse to an allowed type is left for validation to report.
    """
    if schema is None:
        schema = load_schema()
    if isinstance(instance, dict):
        props = schema.get("properties", {})
        return {k: coerce_strings(v, props[k]) if k in props else v for k, v in instance.items()}
    if isinstance(instance, list):
        items = schema.get("items", {})
        return [coerce_strings(v, items) for v in instance]
    if isinstance(instance, str):
        types = schema.get("type", [])
        types = {types} if isinstance(types, str) else set(types)
        if "enum" in schema and instance in schema["enum"]:
            return instance
        if types & _YAML_SCALARS:
            try:
                value = yaml.safe_load(instance)
            except yaml.YAMLError:
                return instance
            if isinstance(value, str) and "number" in types:
                try:  # YAML 1.1 reads "1e-4" as a string
                    value = float(instance)
                except ValueError:
                    return instance
            if isinstance(value, bool):
                return value if "boolean" in types else instance
            if value is None:
                return None if "null" in types else instance
            if isinstance(value, int):
                return value if "integer" in types else float(value) if "number" in types else instance
            if isinstance(value, float) and "number" in types:
                return value
    return instance


def validate(config: Mapping | None, source: str = "config") -> dict:
    """Return a validated deep copy of ``config`` with every default filled in.

    Strings are first typed as the schema expects (:func:`coerce_strings`), so values
    from Snakemake's ``--config`` and YAML 1.1 spellings such as ``1e7`` are accepted.

    Raises :class:`ConfigError` naming the key for an unknown key, wrong type or
    invalid value; ``source`` (a file name) is included in the message.
    """
    import jsonschema

    schema = load_schema()
    cfg = coerce_strings(copy.deepcopy(dict(config or {})), schema)
    cfg = _fill_defaults(cfg, schema)
    validator = jsonschema.Draft202012Validator(schema)
    errors = sorted(validator.iter_errors(cfg), key=lambda e: list(map(str, e.absolute_path)))
    if errors:
        lines = []
        for err in errors:
            key = _key_path(err.absolute_path)
            if err.validator == "additionalProperties":
                known = sorted(err.schema.get("properties", {}))
                extra = sorted(set(err.instance) - set(known))
                for name in extra:
                    full = f"{key}.{name}" if err.absolute_path else name
                    lines.append(f"unknown key '{full}' (allowed here: {', '.join(known)})")
            else:
                lines.append(f"key '{key}': {err.message}")
        raise ConfigError(f"invalid configuration in {source}:\n  " + "\n  ".join(lines))
    _semantic_checks(cfg, source)
    return cfg


def _semantic_checks(cfg: dict, source: str) -> None:
    m = cfg["model"]
    if m["wmax"] <= m["wmin"]:
        raise ConfigError(
            f"invalid configuration in {source}: key 'model.wmax' ({m['wmax']}) must exceed "
            f"'model.wmin' ({m['wmin']})"
        )
    if max(cfg["information"]["lags"]) >= m["time"]:
        raise ConfigError(
            f"invalid configuration in {source}: key 'information.lags' contains a lag "
            f">= model.time ({m['time']})"
        )


def load(path: str | Path | None = None, overrides: Mapping | None = None) -> dict:
    """Load a YAML config file (or none: all defaults), apply overrides, validate."""
    cfg: dict = {}
    source = "defaults"
    if path is not None:
        path = Path(path)
        source = str(path)
        try:
            loaded = yaml.safe_load(path.read_text())
        except FileNotFoundError:
            raise ConfigError(f"config file not found: {path}") from None
        except yaml.YAMLError as exc:
            raise ConfigError(f"config file {path} is not valid YAML: {exc}") from None
        if loaded is not None and not isinstance(loaded, dict):
            raise ConfigError(f"config file {path} must hold a mapping, got {type(loaded).__name__}")
        cfg = loaded or {}
    if overrides:
        cfg = deep_merge(cfg, overrides)
    return validate(cfg, source)


def load_cli(value: str | None, overrides: Mapping | None = None) -> dict:
    """Config for a CLI step: a YAML file path, an inline JSON mapping, or None (defaults)."""
    if value is None:
        return validate(deep_merge({}, overrides or {}), "defaults")
    text = value.strip()
    if text.startswith("{"):
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ConfigError(f"--config: inline JSON is invalid: {exc}") from None
        if not isinstance(data, dict):
            raise ConfigError("--config: inline JSON must be a mapping of config sections")
        return validate(deep_merge(data, overrides or {}), "--config (inline JSON)")
    return load(value, overrides)


def deep_merge(base: Mapping, update: Mapping) -> dict:
    out = copy.deepcopy(dict(base))
    for k, v in update.items():
        if isinstance(v, Mapping) and isinstance(out.get(k), Mapping):
            out[k] = deep_merge(out[k], v)
        else:
            out[k] = copy.deepcopy(v)
    return out
