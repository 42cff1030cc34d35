"""Install anywhere: a wheel that carries its rules, templates, fonts and samples,
and a configuration that is found or refused.

The slow test builds the wheel from a copy of the sources and installs it where a
new user would (a fresh virtual environment, ``pip install --user``, ``pipx``),
then runs the command from an empty directory: ``--help``, a refusal without a
configuration, ``init``, ``rules check``, a sweep and ``demo``. Dependencies come
from the environment running the tests, so nothing is downloaded but the build
backend.
"""

from __future__ import annotations

import configparser
import os
import shutil
import site
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest
from click.testing import CliRunner

from mailintake.base import places
from mailintake.base.places import ConfigNotFound, locate
from mailintake.cli import cli

ROOT = Path(__file__).resolve().parent.parent
BUILD_INPUTS = ("setup.cfg", "pyproject.toml", "MANIFEST.in", "README.md", "mailintake", "rules", "templates", "samples")
SHIPPED = ("rules", "templates", "samples")


def _cli(*args: str) -> tuple[int, str]:
    r = CliRunner().invoke(cli, list(args))
    return r.exit_code, r.output


@pytest.fixture
def nowhere(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty current directory, no $MAILINTAKE_CONFIG, and no system config."""
    here = tmp_path / "here"
    here.mkdir()
    monkeypatch.chdir(here)
    monkeypatch.delenv("MAILINTAKE_CONFIG", raising=False)
    monkeypatch.setattr(places, "SYSTEM_CONFIG", tmp_path / "etc" / "config.toml")
    return here


# --- found or refused --------------------------------------------------------------------------
@pytest.mark.parametrize("command", [("status",), ("triage", "list"), ("sweep",), ("rules", "check"), ("outbox", "list")])
def test_no_config_is_one_line_naming_the_places_and_exit_2(nowhere: Path, command: tuple[str, ...]) -> None:
    code, out = _cli(*command)
    assert code == 2, out
    [line] = out.strip().splitlines()
    assert "no config.toml found" in line
    for place in ("$MAILINTAKE_CONFIG", str(nowhere / "config.toml"), str(places.SYSTEM_CONFIG)):
        assert place in line
    assert "--config" in line and "mailintake init" in line
    assert list(nowhere.iterdir()) == []  # no var/, no registry


def test_the_config_is_found_in_order(nowhere: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ConfigNotFound):
        locate()
    system = places.SYSTEM_CONFIG
    system.parent.mkdir()
    system.write_text(f'[storage]\npath = "{tmp_path}/etc-var"\n')
    assert locate() == system
    with pytest.raises(ConfigNotFound):
        locate(system=False)
    (nowhere / "config.toml").write_text('[storage]\npath = "var"\n')
    assert locate() == nowhere / "config.toml"
    other = tmp_path / "other.toml"
    other.write_text(f'[storage]\npath = "{tmp_path}/other-var"\n')
    monkeypatch.setenv("MAILINTAKE_CONFIG", str(other))
    assert locate() == other
    explicit = tmp_path / "explicit.toml"
    assert locate(explicit) == explicit  # --config wins, even over the environment


def test_config_wins_and_a_missing_one_is_named(nowhere: Path, tmp_path: Path) -> None:
    (nowhere / "config.toml").write_text('[ids]\nformat = "{seq}"\nprefix = "HERE"\n[storage]\npath = "var"\n')
    chosen = tmp_path / "chosen.toml"
    chosen.write_text(f'[storage]\npath = "{tmp_path}/chosen-var"\n')
    code, out = _cli("--config", str(chosen), "status", "--json")
    assert code == 0, out
    assert (tmp_path / "chosen-var").is_dir() and not (nowhere / "var").exists()
    code, out = _cli("--config", str(tmp_path / "nope.toml"), "status")
    assert code == 2 and "config file not found" in out


def test_help_and_init_need_no_config(nowhere: Path) -> None:
    assert _cli("--help")[0] == 0
    assert _cli("triage", "list", "--help")[0] == 0
    code, out = _cli("init", "site")
    assert code == 0, out
    assert (nowhere / "site" / "config.toml").is_file()
    assert (nowhere / "site" / "rules" / "services" / "tm30.toml").is_file()
    assert (nowhere / "site" / "templates" / "permits" / "default.toml").is_file()
    steps = [line for line in out.splitlines() if line.lstrip()[:3] in ("1. ", "2. ", "3. ")]
    assert len(steps) == 3 and "edit" in steps[0] and "rules check" in steps[1] and "sweep" in steps[2]
    assert sorted(p.name for p in nowhere.iterdir()) == ["site"]
    code, out = _cli("--config", "site/config.toml", "rules", "check")
    assert code == 0 and str(nowhere / "site" / "rules" / "mail.toml") in out


def test_demo_without_config_makes_its_own(nowhere: Path) -> None:
    system = places.SYSTEM_CONFIG  # a real deployment's: the demo must not touch it
    system.parent.mkdir()
    system.write_text(f'[storage]\npath = "{system.parent}/var"\n')
    code, out = _cli("demo")
    assert code == 0, out
    assert f"wrote {nowhere / 'config.toml'}" in out and "4 applications registered" in out
    assert not (system.parent / "var").exists()
    code, out = _cli("triage", "show", "SRB-2568-000001")  # the command the demo suggests
    assert code == 0 and "SRB-2568-000001" in out


# --- the wheel ---------------------------------------------------------------------------------
def test_setup_cfg_lists_every_subpackage() -> None:
    """setup.cfg lists the packages (find: cannot add the mapped data packages)."""
    parser = configparser.ConfigParser()
    parser.read(ROOT / "setup.cfg")
    listed = set(parser["options"]["packages"].split())
    found = {".".join(p.parent.relative_to(ROOT).parts) for p in (ROOT / "mailintake").rglob("__init__.py")}
    assert found <= listed, f"add to setup.cfg [options] packages: {sorted(found - listed)}"
    assert {f"mailintake._shipped.{kind}" for kind in SHIPPED} <= listed


def test_shipped_directories_come_from_the_checkout_when_not_installed() -> None:
    for kind in SHIPPED:
        found = places.shipped(kind)
        assert found is not None and found.is_dir()


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The wheel, built from a copy of the sources (not in the checkout, which
    stays untouched by build/ and egg-info)."""
    tmp = tmp_path_factory.mktemp("wheel")
    src = tmp / "src"
    src.mkdir()
    for name in BUILD_INPUTS:
        if (ROOT / name).is_dir():
            shutil.copytree(ROOT / name, src / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        else:
            shutil.copy2(ROOT / name, src / name)
    dist = tmp / "dist"
    _run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(dist), str(src)], cwd=tmp)
    [built] = dist.glob("mailintake-*.whl")
    return built


def _run(args: list[str], *, cwd: Path, env: dict[str, str] | None = None, code: int = 0) -> str:
    r = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=600)
    assert r.returncode == code, f"{' '.join(args)} -> {r.returncode}\n{r.stdout}\n{r.stderr}"
    return r.stdout + r.stderr


def _clean_env(tmp: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MAILINTAKE_", "PYTHON", "PIP_USER"))}
    env.update(HOME=str(tmp / "home"), PYTHONNOUSERSITE="1")
    (tmp / "home").mkdir(exist_ok=True)
    return env


def _install_venv(wheel: Path, tmp: Path, env: dict[str, str]) -> tuple[Path, Path]:
    """A fresh virtual environment that sees this environment's packages (the
    dependencies, without a network): ``--system-site-packages``, plus a .pth
    naming this interpreter's site directories when it is itself a venv."""
    venv = tmp / "venv"
    _run([sys.executable, "-m", "venv", "--system-site-packages", str(venv)], cwd=tmp, env=env)
    _deps_pth(Path(sysconfig.get_path("purelib", vars={"base": str(venv), "platbase": str(venv)})))
    python = venv / "bin" / "python"
    install = [str(python), "-m", "pip", "install", "-q", "--no-deps", "--no-index", "--ignore-installed", str(wheel)]
    _run(install, cwd=tmp, env=env)
    return venv / "bin" / "mailintake", python


def _deps_pth(site_packages: Path) -> None:
    """The dependencies without a network: a .pth naming this interpreter's
    site directories, in the site directory of the installation under test."""
    site_packages.mkdir(parents=True, exist_ok=True)
    (site_packages / "_mailintake_test_deps.pth").write_text("\n".join(site.getsitepackages()) + "\n")


def _install_user(wheel: Path, tmp: Path, env: dict[str, str]) -> tuple[Path, Path]:
    """``pip install --user`` into a temporary user base (where Debian's and
    ``--prefix`` installs used to lose the rules and templates). A virtual
    environment refuses ``--user``, so inside one (CI's) the interpreter it was
    made from installs."""
    base = Path(getattr(sys, "_base_executable", sys.executable))
    env.pop("PYTHONNOUSERSITE")
    env["PYTHONUSERBASE"] = str(tmp / "userbase")
    # An externally managed system Python (PEP 668) refuses --user without it.
    env["PIP_BREAK_SYSTEM_PACKAGES"] = "1"
    user_site = _run([str(base), "-c", "import site; print(site.getusersitepackages())"], cwd=tmp, env=env).strip()
    _deps_pth(Path(user_site))
    install = [str(base), "-m", "pip", "install", "-q", "--user", "--no-deps", "--no-index", "--ignore-installed"]
    _run([*install, str(wheel)], cwd=tmp, env=env)
    return tmp / "userbase" / "bin" / "mailintake", base


def _install_pipx(wheel: Path, tmp: Path, env: dict[str, str]) -> tuple[Path, Path]:
    """pipx (in the ``test`` extra) into its own home, as an admin would run it:
    the wheel and its dependencies from the package index pip is configured with."""
    env.update(PIPX_HOME=str(tmp / "pipx"), PIPX_BIN_DIR=str(tmp / "pipx-bin"), PIPX_MAN_DIR=str(tmp / "pipx-man"))
    # Its shared pip comes from ensurepip rather than a fresh download.
    env["PIPX_DISABLE_SHARED_LIBS_AUTO_UPGRADE"] = "1"
    _run([sys.executable, "-m", "pipx", "install", str(wheel)], cwd=tmp, env=env)
    return tmp / "pipx-bin" / "mailintake", tmp / "pipx" / "venvs" / "mailintake" / "bin" / "python"


INSTALLERS = {"venv": _install_venv, "user": _install_user, "pipx": _install_pipx}


@pytest.mark.slow
def test_the_wheel_carries_everything_and_nothing_at_the_top(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    for kind in SHIPPED:
        for path in (ROOT / kind).rglob("*"):
            if path.is_file() and path.suffix in (".toml", ".j2", ".eml"):
                assert f"mailintake/_shipped/{kind}/{path.relative_to(ROOT / kind).as_posix()}" in names
    for path in (ROOT / "mailintake").rglob("*.py"):
        assert path.relative_to(ROOT).as_posix() in names, f"{path} is not in the wheel"
    assert "mailintake/permits/fonts/Sarabun-Regular.ttf" in names and "mailintake/base/defaults.toml" in names
    assert not [n for n in names if n.split("/")[0] in (*SHIPPED, "share")], "data outside the package"


@pytest.mark.slow
@pytest.mark.parametrize("how", list(INSTALLERS))
def test_the_installed_wheel_works_from_an_empty_directory(wheel: Path, tmp_path: Path, how: str) -> None:
    env = _clean_env(tmp_path)
    command, python = INSTALLERS[how](wheel, tmp_path, env)
    mailintake = str(command)
    empty = tmp_path / "empty"
    empty.mkdir()

    assert "Usage: mailintake" in _run([mailintake, "--help"], cwd=empty, env=env)
    refused = _run([mailintake, "status"], cwd=empty, env=env, code=2)
    assert "no config.toml found" in refused and "/etc/mailintake/config.toml" in refused
    assert list(empty.iterdir()) == []

    where = _run([str(python), "-c", "import mailintake; print(mailintake.__file__)"], cwd=empty, env=env)
    assert not where.strip().startswith(str(ROOT)), f"imported the checkout, not the wheel: {where}"

    out = _run([mailintake, "init", "site"], cwd=empty, env=env)
    site_dir = empty / "site"
    for name in (
        "config.toml",
        "rules/mail.toml",
        "rules/services/tm30.toml",
        "templates/ack.txt.j2",
        "templates/permits/default.toml",
    ):
        assert (site_dir / name).is_file(), name
    assert "rules check" in out and "sweep" in out
    config = str(site_dir / "config.toml")
    assert "mail.toml: ok" in _run([mailintake, "--config", config, "rules", "check"], cwd=empty, env=env)
    _run([mailintake, "--config", config, "sweep"], cwd=empty, env=env)

    trial = tmp_path / "trial"
    trial.mkdir()
    out = _run([mailintake, "demo"], cwd=trial, env=env)
    assert "4 applications registered" in out and (trial / "config.toml").is_file()
    assert "SRB-2568-000001" in _run([mailintake, "triage", "show", "SRB-2568-000001"], cwd=trial, env=env)
