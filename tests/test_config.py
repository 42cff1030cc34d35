"""The generic builder of ``base.settings``: a section is a frozen dataclass,
each field one key read by its type hint and bounded by ``setting(...)``; every
error names the file, the section and the key."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import time
from pathlib import Path

import pytest

from mailintake.base.config import Config, ConfigError, load
from mailintake.base.settings import Reader, build_section, is_section, setting


@dataclass(frozen=True)
class Section:
    name: str = setting(required=True)
    mode: str = setting(choices=("fast", "slow"))
    port: int = setting(high=65535)
    retries: int = setting(low=1, high=10)
    ratio: float = setting(low=0.5)
    memory_bytes: int = setting(key="memory_mb", low=64, unit=1024 * 1024)
    enabled: bool = setting()
    at: time = setting()
    days: tuple[str, ...] = setting(choices=("mon", "tue"))
    home: Path = setting()
    token: str = setting(secret=True)

    def check(self, r: Reader) -> None:
        if self.mode == "fast" and self.retries > 5:
            raise r.fail("retries", "at most 5 when fast")


GOOD = {
    "name": "x",
    "mode": "slow",
    "port": 25,
    "retries": 3,
    "ratio": 1,
    "memory_mb": 100,
    "enabled": True,
    "at": "08:30",
    "days": ["mon"],
    "home": "data",
    "token": "t",
}


def build(**changes: object) -> Section:
    table = {**GOOD, **changes}
    return build_section(Section, Reader("config.toml", "test", {k: v for k, v in table.items() if v is not None}, Path("/srv")))


def test_every_field_is_read_by_its_type_and_setting() -> None:
    s = build()
    assert (s.name, s.port, s.retries, s.ratio, s.enabled) == ("x", 25, 3, 1.0, True)
    assert s.memory_bytes == 100 * 1024 * 1024 and s.at == time(8, 30) and s.days == ("mon",)
    assert s.home == Path("/srv/data") and "'t'" not in repr(s)


@pytest.mark.parametrize(
    "changes,message",
    [
        ({"port": "25"}, "config.toml: [test] port: expected a whole number from 0 to 65535, got '25'"),
        ({"enabled": "yes"}, "config.toml: [test] enabled: expected true or false, got 'yes'"),
        ({"name": 7}, "config.toml: [test] name: expected text, got 7"),
        ({"at": "8h"}, "config.toml: [test] at: expected HH:MM, got '8h'"),
        ({"days": "mon"}, "config.toml: [test] days: expected a list of text, got 'mon'"),
        ({"retries": True}, "config.toml: [test] retries: expected a whole number from 1 to 10, got True"),
    ],
)
def test_a_wrong_type_names_the_key(changes: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError) as exc:
        build(**changes)
    assert str(exc.value) == message


@pytest.mark.parametrize(
    "changes,message",
    [
        ({"port": 70000}, "config.toml: [test] port: expected a whole number from 0 to 65535, got 70000"),
        ({"retries": 0}, "config.toml: [test] retries: expected a whole number from 1 to 10, got 0"),
        ({"ratio": 0.1}, "config.toml: [test] ratio: expected a number of at least 0.5, got 0.1"),
        ({"memory_mb": 8}, "config.toml: [test] memory_mb: expected a number of at least 64, got 8"),
        ({"mode": "medium"}, "config.toml: [test] mode: expected one of fast, slow, got 'medium'"),
        ({"days": ["sun"]}, "config.toml: [test] days: expected a list of mon, tue, got ['sun']"),
        ({"name": " "}, "config.toml: [test] name: must not be empty, got ' '"),
        ({"mode": "fast", "retries": 7}, "config.toml: [test] retries: at most 5 when fast, got 7"),
        ({"token": 5}, "config.toml: [test] token: expected text, got ***"),  # a secret is never shown
    ],
)
def test_an_out_of_range_value_names_the_key(changes: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError) as exc:
        build(**changes)
    assert str(exc.value) == message


def test_an_unknown_key_is_refused_by_name() -> None:
    with pytest.raises(ConfigError) as exc:
        build(colour="blue")
    assert str(exc.value) == "config.toml: [test] colour: unknown key"


def test_a_missing_key_is_named_too() -> None:
    with pytest.raises(ConfigError, match=r"\[test\] port: expected a whole number"):
        build(port=None)


def test_a_password_is_never_shown(tmp_path: Path) -> None:
    cfg = tmp_path / "config.toml"
    cfg.write_text('[smtp]\npassword = ["s3cret"]\n')
    with pytest.raises(ConfigError) as exc:
        load(cfg, environ={})
    assert str(exc.value) == "config.toml: [smtp] password: expected text, got ***"


def test_each_key_of_the_defaults_is_one_field(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every section of defaults.toml is a field of Config, and every key a field
    of its section (or the TOML name of one): nothing is declared twice."""
    import tomllib
    import typing

    from mailintake.base.config import DEFAULTS, OPEN_TABLES

    with DEFAULTS.open("rb") as fh:
        defaults = tomllib.load(fh)
    sections = {n: h for n, h in typing.get_type_hints(Config).items() if is_section(h)}
    assert set(sections) == set(defaults) - OPEN_TABLES
    for name, cls in sections.items():
        keys = {f.metadata.get("key") or f.name for f in dataclasses.fields(cls)}
        assert keys == set(defaults[name]), name
    monkeypatch.chdir(tmp_path)
    assert load(None, environ={}).source is None  # the defaults alone are valid


def test_an_unknown_key_names_the_nearest_known_one() -> None:
    with pytest.raises(ConfigError) as exc:
        build(retires=3)
    assert str(exc.value) == "config.toml: [test] retires: unknown key (did you mean retries?)"
