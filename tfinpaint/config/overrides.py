"""`get_config` and the `--set section.key=value` overrides."""

from __future__ import annotations

import types
import typing
from dataclasses import fields, replace

from tfinpaint.config.errors import ConfigError
from tfinpaint.config.experiment import LEGACY_KEYS, PRESETS, ExperimentConfig, validate


def get_config(paper: int, preset: str = "demo", overrides: typing.Sequence[str] = ()) -> ExperimentConfig:
    """Return the preset `preset` of paper `paper` with `key=value` overrides applied."""
    if paper not in PRESETS:
        raise ConfigError(f"paper {paper!r} does not exist; expected one of {sorted(PRESETS)}")
    if preset not in PRESETS[paper]:
        raise ConfigError(
            f"preset {preset!r} does not exist for paper {paper}; expected one of {sorted(PRESETS[paper])}"
        )
    return apply_overrides(PRESETS[paper][preset], overrides)


def apply_overrides(config: ExperimentConfig, overrides: typing.Sequence[str]) -> ExperimentConfig:
    """Apply `section.key=value` (or a bare `key=value` that names one field) overrides."""
    for item in overrides:
        if "=" not in item:
            raise ConfigError(f"--set {item!r}: expected key=value, e.g. train.batch_size=4")
        key, raw = item.split("=", 1)
        section_name, field_name = _resolve_key(config, key.strip())
        section = getattr(config, section_name)
        ftype = _field_types(type(section))[field_name]
        value = _parse_value(raw.strip(), ftype, f"{section_name}.{field_name}")
        config = replace(config, **{section_name: replace(section, **{field_name: value})})
    validate(config)
    return config


def _field_types(cls) -> dict:
    return typing.get_type_hints(cls)


def _resolve_key(config: ExperimentConfig, key: str) -> tuple[str, str]:
    sections = ("data", "model", "train")
    if "." in key:
        section_name, field_name = key.split(".", 1)
        if section_name not in sections:
            raise ConfigError(f"--set {key}: unknown section {section_name!r}; expected one of {sections}")
        names = [f.name for f in fields(getattr(config, section_name))]
        if field_name in LEGACY_KEYS.get(section_name, {}):
            new = LEGACY_KEYS[section_name][field_name]
            raise ConfigError(
                f"--set {key}: "
                + (f"renamed {section_name}.{new}" if new else "removed (its only value is built in)")
            )
        if field_name not in names:
            raise ConfigError(f"--set {key}: unknown key; {section_name} has {sorted(names)}")
        return section_name, field_name
    matches = [s for s in sections if key in {f.name for f in fields(getattr(config, s))}]
    if len(matches) != 1:
        every = sorted(f"{s}.{f.name}" for s in sections for f in fields(getattr(config, s)))
        why = "is ambiguous" if matches else "is unknown"
        raise ConfigError(f"--set {key}: the key {why}; expected one of {', '.join(every)}")
    return matches[0], key


def _parse_value(raw: str, ftype, where: str):
    optional = typing.get_origin(ftype) in (typing.Union, types.UnionType) and type(None) in typing.get_args(
        ftype
    )
    if optional:
        if raw.lower() in ("none", "null", ""):
            return None
        ftype = next(a for a in typing.get_args(ftype) if a is not type(None))
    try:
        if ftype is bool:
            if raw.lower() in ("1", "true", "yes", "on"):
                return True
            if raw.lower() in ("0", "false", "no", "off"):
                return False
            raise ValueError
        if ftype is int:
            return int(raw.replace("_", ""))
        if ftype is float:
            return float(raw)
        if ftype is str:
            return raw
    except ValueError:
        pass
    else:
        raise ConfigError(f"--set {where}: unsupported field type {ftype}")
    expected = {bool: "true or false", int: "an integer", float: "a number"}.get(ftype, str(ftype))
    raise ConfigError(f"--set {where}={raw!r}: expected {expected}")
