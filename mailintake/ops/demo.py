"""``mailintake demo`` and ``mailintake init``.

The demo delivers the sample applications shipped in ``samples/`` into the
local Maildir with the receipt times in ``samples/index.toml``, sweeps at the
scenario's ``now``, and prints the triage list and where the acknowledgements are.
It prints through ``echo`` (``print`` unless the caller passes its own).
Both read what came with the program through ``base.places.shipped``, so they
work from an installed wheel as from a checkout.
"""

from __future__ import annotations

import os
import shutil
import tomllib
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

from mailintake.base.config import DEFAULTS, Config, ConfigError
from mailintake.base.deployment import open_registry
from mailintake.base.errors import UserError
from mailintake.base.places import shipped
from mailintake.base.privacy import FILE_MODE
from mailintake.desk.queries import list_applications
from mailintake.intake.source import MaildirSource
from mailintake.intake.sweep import SweepReport, run_sweep
from mailintake.ops.listings import demo_table
from mailintake.ops.status import counted

EDITED = ("rules", "templates")  # what an office edits, besides config.toml


def _samples_dir(cfg: Config) -> Path:
    for d in (cfg.base_dir / "samples", shipped("samples")):
        if d is not None and (d / "index.toml").is_file():
            return d
    raise ConfigError("samples/index.toml not found beside config.toml nor in the package: reinstall mailintake")


def run_demo(cfg: Config, *, fresh: bool, echo: Callable[[str], None] = print) -> None:
    if cfg.mailbox.kind != "maildir":
        raise UserError('the demo uses the local Maildir: set [mailbox] kind = "maildir" (the default)')
    if fresh:
        for p in (cfg.mailbox.path, cfg.smtp.outgoing_path, cfg.store_path):
            shutil.rmtree(p, ignore_errors=True)
        for suffix in ("", "-wal", "-shm"):
            Path(f"{cfg.db_path}{suffix}").unlink(missing_ok=True)
    reg = open_registry(cfg)
    if reg.get_kv("demo_delivered"):
        raise UserError("the demo samples were already delivered here; run `mailintake demo --fresh` to start again")
    samples = _samples_dir(cfg)
    with (samples / "index.toml").open("rb") as fh:
        index = tomllib.load(fh)
    box = MaildirSource(cfg.mailbox)
    for item in index["sample"]:
        raw = (samples / item["file"]).read_bytes()
        box.add(item["folder"], raw, datetime.fromisoformat(item["received"]))
    with reg.transaction():
        reg.set_kv("demo_delivered", index["now"])
    now = datetime.fromisoformat(index["now"])
    echo(f"Delivered {len(index['sample'])} sample emails to {cfg.mailbox.path} (INBOX and Junk).")
    echo(f"Sweeping as the clock reads {now:%a %d %b %Y %H:%M %z} (the Monday-morning sweep)...\n")
    report = run_sweep(cfg, now)
    echo(count_line(report) + "\n")
    apps = list_applications(reg, now=datetime.now(cfg.hours.timezone))
    for line in demo_table(apps):
        echo(line)
    out = Path(cfg.smtp.outgoing_path)
    first = apps[0]["transaction_id"] if apps else "ID"
    echo(
        f"\n{len(apps)} applications registered (every column: mailintake triage list). "
        f"Acknowledgements (Thai and English): {len(list((out / 'new').glob('*')))} in the Maildir {out}/new/."
    )
    echo(f"Read one:  mailintake triage show {first}  lists its mail;  mailintake outbox show 1  prints the first.")
    echo(f"Or with any mail reader:  mutt -f {out}")


# What each outcome of the demo's sweep is called on its count line.
_SAID = {"spam": "spam (deleted)"}


def count_line(report: SweepReport) -> str:
    """The sweep as the user counts it: each email once, by what it turned out
    to be; one moved from Junk to INBOX is one email, said as rescued.
    E.g. ``6 emails: 4 applications, 1 auto-reply, 1 spam (deleted), with 1 of
    them rescued from Junk; 4 acknowledgements sent``."""
    counts = dict(report.counts)
    rescued = counts.pop("moved from junk", 0)
    total = sum(counts.values())
    words = counted({_SAID.get(k, k): n for k, n in counts.items()}, empty="nothing new")
    line = f"{total} email{'' if total == 1 else 's'}: {words}"
    if rescued:
        line += f", with {rescued} of them rescued from Junk"
    if report.outbox is not None:
        line += f"; {report.outbox.sent} acknowledgement{'' if report.outbox.sent == 1 else 's'} sent"
        if report.outbox.failed or report.outbox.retried:
            line += f" ({report.outbox.failed} failed, {report.outbox.retried} to retry)"
    return line


def write_config(target: Path) -> Path:
    """A new ``config.toml`` in ``target``: the shipped defaults, every key with
    its comment (never over an existing one). It is 0600 from the start: the
    office adds its IMAP and SMTP passwords to it."""
    path = target / "config.toml"
    if path.exists():
        raise UserError(f"{path} exists; not overwriting it")
    try:
        target.mkdir(parents=True, exist_ok=True)
        with open(path, "x", encoding="utf-8", opener=lambda name, flags: os.open(name, flags, FILE_MODE)) as fh:
            fh.write(DEFAULTS.read_text(encoding="utf-8"))
    except OSError as exc:
        raise UserError(f"cannot write {path}: {exc.strerror}") from None
    return path


def init_directory(target: Path) -> list[str]:
    """A new deployment directory: config.toml, and the rules and templates
    that came with the program, to edit; then the next three commands."""
    sources: dict[str, Path] = {}
    for kind in EDITED:
        src = shipped(kind)
        if src is None:
            raise ConfigError(f"{kind}/: not found in the installed package; reinstall mailintake")
        sources[kind] = src
    config = write_config(target)
    lines = [f"wrote {config}"]
    for kind, src in sources.items():
        shutil.copytree(src, target / kind, dirs_exist_ok=True)
        lines.append(f"copied {kind}/ to {target / kind}")
    lines += [
        "next:",
        f"  1. edit {config}: [agency], [mailbox] and [smtp] (passwords go in the environment,",
        "     e.g. MAILINTAKE_MAILBOX_PASSWORD)",
        f"  2. mailintake --config {config} rules check",
        f"  3. mailintake --config {config} sweep",
        "to try mailintake first with sample mail: `mailintake demo` in an empty directory",
    ]
    return lines
