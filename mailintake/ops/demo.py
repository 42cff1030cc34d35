"""``mailintake demo`` and ``mailintake init``.

The demo delivers the sample applications shipped in ``samples/`` into the
local Maildir with the receipt times in ``samples/index.toml``, sweeps at the
scenario's ``now``, and prints the triage list and where the acknowledgements are.
It prints through ``echo`` (``print`` unless the caller passes its own).
"""

from __future__ import annotations

import shutil
import sys
import tomllib
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

from mailintake.base.config import DEFAULTS, Config, ConfigError
from mailintake.base.data.db import Registry
from mailintake.base.errors import UserError
from mailintake.desk.queries import list_applications
from mailintake.intake.source import MaildirSource
from mailintake.intake.sweep import run_sweep
from mailintake.ops.listings import triage_table

ROOT = Path(__file__).resolve().parents[2]


def _samples_dir(cfg: Config) -> Path:
    for d in (cfg.base_dir / "samples", ROOT / "samples"):
        if (d / "index.toml").is_file():
            return d
    raise ConfigError("samples/index.toml not found: run the demo from a mailintake checkout")


def run_demo(cfg: Config, *, fresh: bool, echo: Callable[[str], None] = print) -> None:
    if cfg.mailbox.kind != "maildir":
        raise UserError('the demo uses the local Maildir: set [mailbox] kind = "maildir" (the default)')
    if fresh:
        for p in (cfg.mailbox.path, cfg.smtp.outgoing_path, cfg.store_path):
            shutil.rmtree(p, ignore_errors=True)
        for suffix in ("", "-wal", "-shm"):
            Path(f"{cfg.db_path}{suffix}").unlink(missing_ok=True)
    reg = Registry(cfg.db_path)
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
    echo(report.summary() + "\n")
    apps = list_applications(reg, now=datetime.now(cfg.hours.timezone))
    for line in triage_table(apps):
        echo(line)
    out = Path(cfg.smtp.outgoing_path)
    echo(
        f"\n{len(apps)} applications registered. Acknowledgements (Thai and English) are in the Maildir "
        f"{out}/new/ ({len(list((out / 'new').glob('*')))} messages);"
    )
    echo(
        f"read one with:  mailintake triage show {apps[0]['transaction_id'] if apps else 'ID'}   "
        f"or any mail reader, e.g.  mutt -f {out}"
    )


def init_directory(target: Path) -> list[str]:
    """Copy the defaults into a new deployment directory."""
    if (target / "config.toml").exists():
        raise UserError(f"{target / 'config.toml'} exists; not overwriting it")
    target.mkdir(parents=True, exist_ok=True)
    text = DEFAULTS.read_text(encoding="utf-8")
    (target / "config.toml").write_text(text, encoding="utf-8")
    lines = [f"wrote {target / 'config.toml'} (edit [agency], [mailbox] and [smtp])"]
    for kind in ("rules", "templates"):
        for src in (ROOT / kind, Path(sys.prefix) / "share" / "mailintake" / kind):
            if src.is_dir():
                shutil.copytree(src, target / kind, dirs_exist_ok=True)
                lines.append(f"copied {kind}/ to {target / kind}")
                break
    lines.append(f"check it with:  mailintake --config {target / 'config.toml'} rules check")
    return lines
