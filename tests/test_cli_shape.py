"""The shape of the command line, read from its click tree: every command has
help with an example, and every listing offers the same output options (a
table, ``--json``, ``--csv``, ``--nl``); the table lines up Thai text."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from mailintake.cli import cli
from mailintake.ops.listings import Column, display_width, fit, table_lines

# Commands that list rows. A command called "list" is one whatever its group.
LISTINGS = {
    ("triage", "list"),
    ("triage", "files"),
    ("triage", "held"),
    ("payments", "list"),
    ("inquiries", "faq"),
    ("permit", "list"),
    ("outbox", "list"),
    ("quarantine", "list"),
    ("audit", "list"),
    ("status",),
    ("log", "export"),
    ("delays", "export"),
    ("report", "acks"),
    ("report", "satisfaction"),
    ("book", "print"),
    ("book", "check"),
}
# Commands that show one thing and so have ``--json`` alone.
SINGLE = {
    ("purge",),
    ("sweep",),
    ("triage", "show"),
    ("outbox", "show"),
    ("permit", "status"),
    ("permit", "verify"),
    ("backup", "verify"),
    ("calendar", "show"),
    ("calendar", "import"),
    ("deadlines", "run"),
    ("book", "destruction-list"),
    ("book", "destroy"),
    ("book", "export"),
    ("report", "monthly"),
}
FORMATS = {"--json", "--csv", "--nl"}


def _tree(group: click.Group, prefix: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], click.Command]]:
    for name, cmd in group.commands.items():
        yield (*prefix, name), cmd
        if isinstance(cmd, click.Group):
            yield from _tree(cmd, (*prefix, name))


COMMANDS = dict(_tree(cli))


def _flags(cmd: click.Command) -> set[str]:
    return {opt for p in cmd.params if isinstance(p, click.Option) for opt in p.opts}


def test_the_listings_named_here_exist() -> None:
    assert LISTINGS | SINGLE <= set(COMMANDS)


@pytest.mark.parametrize("path", sorted(COMMANDS), ids=" ".join)
def test_every_command_has_help_with_an_example(path: tuple[str, ...]) -> None:
    help_text = COMMANDS[path].help or ""
    assert help_text.strip(), f"`mailintake {' '.join(path)}` has no help"
    assert "Example: mailintake" in help_text, f"`mailintake {' '.join(path)}` has no Example: line"


@pytest.mark.parametrize("path", sorted(COMMANDS), ids=" ".join)
def test_every_listing_has_the_output_options(path: tuple[str, ...]) -> None:
    cmd = COMMANDS[path]
    flags = _flags(cmd)
    if path in LISTINGS or path[-1] == "list":
        assert FORMATS <= flags, f"`mailintake {' '.join(path)}` lacks {sorted(FORMATS - flags)}"
    elif "--json" in flags:
        # A new command with --json alone is a listing that forgot --csv and --nl, or belongs in SINGLE.
        assert path in SINGLE, f"`mailintake {' '.join(path)}` has --json: add it to LISTINGS (with the options) or SINGLE"


# --- the table ---------------------------------------------------------------------------------
def test_thai_marks_take_no_column() -> None:
    assert display_width("สมชาย") == 5
    assert display_width("ที่ดิน") == 3  # ท ด น; the vowels ี ิ and the tone mark ่ sit above
    assert display_width("น้ำ") == 2  # น and sara am; the tone mark is above
    assert display_width("abc") == 3


def test_a_table_with_thai_lines_up() -> None:
    columns = [Column("name", "NAME", 12), Column("status", "STATUS", 8)]
    lines = table_lines(
        [
            {"name": "สมชาย ใจดี", "status": "received"},
            {"name": "Alice", "status": "approved"},
            {"name": "นางสาวพิมพ์ใจ ศรีสุข", "status": "rejected"},
        ],
        columns,
    )
    assert [display_width(line) for line in lines[2:]] == [22, 22, 22]
    assert lines[2].endswith("received") and lines[4].endswith("rejected")
    assert "…" in lines[4] and display_width(fit("นางสาวพิมพ์ใจ ศรีสุข", 12)) == 12


def test_no_rows_is_none() -> None:
    assert table_lines([], [Column("a", "A", 3)]) == ["(none)"]


# --- the formats, on the demo's register --------------------------------------------------------
@pytest.fixture(scope="module")
def demo_config(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = Path(__file__).parent.parent
    cfg = tmp_path_factory.mktemp("shape") / "config.toml"
    cfg.write_text((root / "config.toml").read_text(encoding="utf-8"), encoding="utf-8")
    r = CliRunner().invoke(cli, ["--config", str(cfg), "demo"], catch_exceptions=False)
    assert r.exit_code == 0, r.output
    return cfg


def _out(cfg: Path, *args: str) -> str:
    r = CliRunner().invoke(cli, ["--config", str(cfg), *args], catch_exceptions=False)
    assert r.exit_code == 0, r.output
    return r.stdout


def test_json_csv_and_nl_carry_the_same_rows(demo_config: Path) -> None:
    rows = json.loads(_out(demo_config, "triage", "list", "--json"))
    assert len(rows) == 4
    assert [json.loads(line) for line in _out(demo_config, "triage", "list", "--nl").splitlines()] == rows
    table = list(csv.DictReader(io.StringIO(_out(demo_config, "triage", "list", "--csv"))))
    assert [r["transaction_id"] for r in table] == [r["transaction_id"] for r in rows]
    assert json.loads(table[0]["files"]) == rows[0]["files"]  # nested values are JSON in a cell
    text = _out(demo_config, "triage", "list").splitlines()
    assert text[0].startswith("TRANSACTION") and len(text) == 2 + 4


def test_status_has_its_own_shape_in_every_format(demo_config: Path) -> None:
    data = json.loads(_out(demo_config, "status", "--no-live", "--json"))
    assert json.loads(_out(demo_config, "status", "--no-live", "--nl")) == data
    fields = {r["field"]: r["value"] for r in csv.DictReader(io.StringIO(_out(demo_config, "status", "--no-live", "--csv")))}
    assert fields["last_sweep.result"] == data["last_sweep"]["result"]
    assert _out(demo_config, "status", "--no-live").startswith("Last sweep:")


def test_an_empty_listing(demo_config: Path) -> None:
    assert _out(demo_config, "quarantine", "list").strip() == "(none)"
    assert _out(demo_config, "quarantine", "list", "--json").strip() == "[]"
    assert _out(demo_config, "quarantine", "list", "--csv") == _out(demo_config, "quarantine", "list", "--nl") == ""
