"""The administrator's commands: ``init``, ``demo``, and the ``backup``,
``log``, ``audit`` and ``rules`` groups."""

from __future__ import annotations

import os
import re
import shutil
import sys
from datetime import datetime
from pathlib import Path

import click

from mailintake.base.auditkey import AuditKey
from mailintake.base.data.audit import list_events
from mailintake.base.data.db import Registry
from mailintake.base.errors import UserError
from mailintake.base.places import ConfigNotFound
from mailintake.cli.common import config, deployment, moment, now_option, use_config
from mailintake.cli.output import CSV, JSON, NL, emit, json_option, output_options, print_json
from mailintake.desk.roles import require
from mailintake.ops import anchors
from mailintake.ops import backup as backups
from mailintake.ops.checkup import check_all
from mailintake.ops.demo import init_directory, run_demo, write_config
from mailintake.ops.listings import EVENTS
from mailintake.ops.reports import log_csv, service_log


@click.command()
@click.argument("directory", type=click.Path(file_okay=False))
@click.option(
    "--systemd",
    is_flag=True,
    help="Also write mailintake.service for this program and DIRECTORY, and keep the data in /var/lib/mailintake.",
)
def init(directory: str, systemd: bool) -> None:
    """Create a deployment directory with config.toml, rules/ and templates/ to
    edit, and print the next three commands. Needs no configuration. With
    --systemd the new config.toml keeps its registry, files, backups and
    outgoing mail in /var/lib/mailintake, the only place the service may write,
    and a hardened unit is written beside it to install.

    Example: mailintake init /etc/mailintake --systemd
    """
    target = Path(directory).absolute() if systemd else Path(directory)
    for line in init_directory(target):
        click.echo(line)
    if not systemd and AuditKey(target / "audit.key").create():
        click.echo(f"wrote {target / 'audit.key'}: the audit key (0600); keep it out of backups of the data")
    if systemd:
        for line in write_service(target):
            click.echo(line)


# --- the systemd service ---------------------------------------------------------------------
# The service may write only under DATA_DIR (ProtectSystem=strict), so `init --systemd` points
# every data path of the new config.toml there. contrib/systemd/mailintake.service is UNIT for
# /usr/local/bin/mailintake and /etc/mailintake/config.toml (tests/test_systemd.py checks).
DATA_DIR = Path("/var/lib/mailintake")
KEY_DIR = Path("/var/lib/mailintake-audit")
DATA_KEYS = re.compile(r'^((?:path|outgoing_path) = )"var(/[^"]*)?"', re.MULTILINE)
UNIT = """\
# mailintake: the daemon of one agency's central mailbox (README, "Deploy on a server").
# Install: cp mailintake.service /etc/systemd/system/ && systemctl enable --now mailintake
# Logs: journalctl -u mailintake -f (for a log shipper: --log-format json before "run").
[Unit]
Description=mailintake: register and answer the permit applications of the central mailbox
After=network-online.target
Wants=network-online.target

[Service]
Type=simple
User=mailintake
Group=mailintake
ExecStart={exec_start} --config {config} run
# Passwords as MAILINTAKE_MAILBOX_PASSWORD=... and MAILINTAKE_SMTP_PASSWORD=..., in a file
# only root reads (systemd reads it before dropping to the user).
EnvironmentFile=-{environment}
WorkingDirectory={data_dir}
StateDirectory={state} {state}-audit
StateDirectoryMode=0700
# The clerks' socket ([daemon] socket): /run/mailintake, which they may enter.
RuntimeDirectory=mailintake
RuntimeDirectoryMode=0755
UMask=0077
Restart=on-failure
RestartSec=30s
# Exit 2 is a wrong configuration (one line in the journal): restarting will not mend it.
RestartPreventExitStatus=2
# SIGTERM: the daemon stops after the message in hand (each message is its own transaction).
TimeoutStopSec=90s
StandardOutput=journal
StandardError=journal
SyslogIdentifier=mailintake

# Hardening: the whole file system read-only but the data directory, no home directories,
# a private /tmp, no devices, no privileges to gain, mail and DNS sockets only.
NoNewPrivileges=yes
ProtectSystem=strict
ReadWritePaths={data_dir}
ProtectHome=yes
PrivateTmp=yes
PrivateDevices=yes
ProtectKernelTunables=yes
ProtectKernelModules=yes
ProtectKernelLogs=yes
ProtectControlGroups=yes
ProtectClock=yes
ProtectHostname=yes
ProtectProc=invisible
RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6
RestrictNamespaces=yes
RestrictRealtime=yes
RestrictSUIDSGID=yes
LockPersonality=yes
RemoveIPC=yes
PrivateMounts=yes
SystemCallArchitectures=native
# @resources stays allowed: the check worker limits its own address space (setrlimit).
SystemCallFilter=@system-service
SystemCallFilter=~@privileged
CapabilityBoundingSet=
AmbientCapabilities=

[Install]
WantedBy=multi-user.target
"""


def unit_text(exec_start: str, config: Path, data_dir: Path = DATA_DIR) -> str:
    """The unit for the daemon, run as ``exec_start --config CONFIG run``."""
    return UNIT.format(
        exec_start=exec_start,
        config=config,
        environment=config.parent / "environment",
        data_dir=data_dir,
        state=data_dir.relative_to("/var/lib"),
    )


def this_program() -> str:
    """The command that started this process, as an absolute path the service can run:
    the ``mailintake`` script beside this interpreter (a venv, pipx), else the one on
    PATH, else ``python -m mailintake``."""
    for found in (Path(sys.executable).parent / "mailintake", shutil.which("mailintake")):
        if found and Path(found).is_file() and os.access(found, os.X_OK):
            return str(Path(found).absolute())
    return f"{sys.executable} -m mailintake"


def write_service(target: Path) -> list[str]:
    """Point the new config.toml's data at DATA_DIR and write the unit beside it."""
    config = target / "config.toml"
    text = DATA_KEYS.sub(lambda m: f'{m[1]}"{DATA_DIR}{m[2] or ""}"', config.read_text(encoding="utf-8"))
    # The audit key and its anchors log: in a state directory of their own, which the
    # service may write and which no backup of the data directory carries.
    text = text.replace('\nkey_file = "audit.key"\n', f'\nkey_file = "{KEY_DIR}/audit.key"\n', 1)
    config.write_text(text, encoding="utf-8")
    program = this_program()
    unit = target / "mailintake.service"
    unit.write_text(unit_text(program, config), encoding="utf-8")
    lines = [
        f"{config}: registry, files, backups and outgoing mail in {DATA_DIR}; the audit key in {KEY_DIR}",
        f"wrote {unit}",
    ]
    if program.startswith(("/home/", "/root/")):
        lines.append(
            f"warning: {program} is in a home directory, which ProtectHome=yes hides from the service: install into /opt (README)"
        )
    return [
        *lines,
        "to install the service (as root):",
        f"  useradd --system --user-group --home-dir {DATA_DIR} --shell /usr/sbin/nologin mailintake",
        f"  chgrp -R mailintake {target} && chmod -R g+rX,o-rwx {target}",
        f"  cp {unit} /etc/systemd/system/ && systemctl daemon-reload && systemctl enable --now mailintake",
        "  journalctl -u mailintake -f",
        f'the public site goes to {DATA_DIR}/site, which no web server can read: to serve it, set [publish] path to the web root and add it to ReadWritePaths=, or copy it there (README, "Public site")',
    ]


@click.command()
@click.option("--fresh", is_flag=True, help="Empty var/ first (the demo's mailbox, registry and outgoing mail).")
@click.pass_context
def demo(ctx: click.Context, fresh: bool) -> None:
    """Deliver the sample applications into the local Maildir with realistic
    receipt times, sweep, and show the triage list. Without --config (or a
    config.toml here) it writes its own config.toml here first.

    Example: mailintake demo --fresh
    """
    try:
        # Never /etc/mailintake/config.toml: sample mail must not reach a real registry.
        cfg = config(ctx, system=False)
    except ConfigNotFound:
        made = write_config(Path.cwd())
        # A demo is a sandbox: marked for testing, so --now and playing a declared user work in it.
        text = made.read_text(encoding="utf-8").replace('\nmode = "production"\n', '\nmode = "test"\n', 1)
        made.write_text(f"{DEMO_MARK}\n{text}", encoding="utf-8")
        click.echo(f"no config.toml here: wrote {made} for the demo (the shipped defaults; mail and registry in ./var)")
        cfg = use_config(ctx, made)
    refuse_real_config(cfg.source, cfg.db_path, fresh=fresh)
    run_demo(cfg, fresh=fresh, echo=click.echo)


DEMO_MARK = "# made by mailintake demo"


def refuse_real_config(source: Path | None, db_path: Path, *, fresh: bool) -> None:
    """The demo delivers sample mail and ``--fresh`` deletes the registry, so it
    runs only on a config the demo made (its first lines carry ``DEMO_MARK``),
    and ``--fresh`` empties only a registry the demo filled: a real office's
    config or registry is refused in one line."""
    head = source.read_text(encoding="utf-8").splitlines()[:5] if source is not None and source.is_file() else []
    if DEMO_MARK not in (line.strip() for line in head):
        raise UserError(
            f"{source}: not a config made by `mailintake demo` (no {DEMO_MARK!r} line); run the demo in an empty directory"
        )
    if fresh and db_path.exists() and not Registry(db_path).get_kv("demo_delivered"):
        raise UserError(f"{db_path}: a registry the demo did not fill; not emptying it")


# --- backup ----------------------------------------------------------------------------------
@click.group()
def backup() -> None:
    """Backups of the registry and the file store (R14, R27).

    Example: mailintake backup create
    """


@backup.command("create")
@click.option("--out", "out_dir", type=click.Path(file_okay=False), help="Directory to write into (default [backup] path).")
@now_option
@click.pass_context
def backup_create(ctx: click.Context, out_dir: str | None, now: str | None) -> None:
    """Online backup of the registry, the file store and a manifest of hashes.

    Example: mailintake backup create --out /mnt/nas/mailintake
    """
    made = backups.make(config(ctx), moment(ctx, now), Path(out_dir) if out_dir else None)
    click.echo(made.describe())


@backup.command("verify")
@click.argument("path", type=click.Path(exists=True, file_okay=False))
@json_option
@click.pass_context
def backup_verify(ctx: click.Context, path: str, as_json: bool) -> None:
    """Check every file's hash, the database and the audit chain of a backup,
    and with the audit key (from the config, when there is one) the
    manifest's MAC and every event's.

    Example: mailintake backup verify var/backups/backup-20251209T180000
    """
    try:
        key_path: Path | None = config(ctx).audit.key_file
    except ConfigNotFound:
        key_path = None
    result = backups.verify(Path(path), AuditKey(key_path).load() if key_path else None, key_path)
    if as_json:
        print_json(result)
    else:
        ok = "ok" if result["ok"] else "PROBLEMS"
        click.echo(f"{path}: {ok}; {result['keyed']}; {result['files']} files; {result['counts']}")
        for p in result["problems"]:
            click.echo(f"  {p}")
    if not result["ok"]:
        raise click.exceptions.Exit(1)


@backup.command("restore")
@click.argument("path", type=click.Path(exists=True, file_okay=False))
@click.option("--into", "into", type=click.Path(file_okay=False), help="Storage directory (default [storage] path).")
@click.option("--force", is_flag=True, help="Restore over a storage directory that is not empty.")
@click.pass_context
def backup_restore(ctx: click.Context, path: str, into: str | None, force: bool) -> None:
    """Restore a backup into an empty storage directory (admin).

    Example: mailintake backup restore var/backups/backup-20251209T180000 --into /srv/mailintake/var
    """
    cfg = config(ctx)  # not the deployment: that would make the storage it restores into
    if cfg.users:
        require(cfg, "admin")
    target = Path(into) if into else cfg.storage_path
    result = backups.restore(Path(path), target, force=force, key=AuditKey(cfg.audit.key_file).load())
    click.echo(f"restored {result['counts']['applications']} applications and {result['files']} files into {target}")


# --- the service log -------------------------------------------------------------------------
@click.group("log")
def log_group() -> None:
    """The service log of Table 2 of the Email Baseline Procedure (R11).

    Example: mailintake log export --from 2025-12-01 --to 2025-12-31 --csv --lang th
    """


@log_group.command("export")
@click.option("--from", "start", required=True, type=click.DateTime(["%Y-%m-%d"]), help="First day (YYYY-MM-DD).")
@click.option("--to", "end", required=True, type=click.DateTime(["%Y-%m-%d"]), help="Last day (YYYY-MM-DD).")
@output_options(default=CSV, formats=(JSON, CSV, NL))
@click.option("--lang", type=click.Choice(["en", "th"]), default="en", help="CSV column headers in Thai or English.")
@click.pass_context
def log_export(ctx: click.Context, start: datetime, end: datetime, fmt: str, lang: str) -> None:
    """Date received, date replied, requester, subject, source, remarks.

    Example: mailintake log export --from 2025-12-01 --to 2025-12-31 --csv --lang th
    """
    rows = service_log(deployment(ctx).registry, start.date(), end.date())
    if fmt == CSV:
        click.echo(log_csv(rows, lang), nl=False)
    else:
        emit(rows, fmt, lambda _rows: [])


# --- audit -----------------------------------------------------------------------------------
@click.group()
def audit() -> None:
    """The audit log: every action, chained by HMAC under the audit key.

    Example: mailintake audit verify
    """


@audit.command("verify")
@click.option("--anchor", "anchor_", multiple=True, metavar="ID:MAC", help="An anchor as the admin's anchor mail gives it.")
@click.option("--manifest", type=click.Path(exists=True), multiple=True, help="A backup (or its manifest.json) to check against.")
@click.pass_context
def audit_verify(ctx: click.Context, anchor_: tuple[str, ...], manifest: tuple[str, ...]) -> None:
    """Prove the chain of events intact (every MAC recomputed with the audit
    key) and not rolled back (every anchor: the anchors log beside the key,
    --anchor, --manifest); else one line naming the event, exit 1.

    Example: mailintake audit verify --anchor 42:3f6c...
    """
    click.echo(anchors.check(deployment(ctx), anchor_, tuple(Path(m) for m in manifest)))


@audit.command("anchor")
@now_option
@click.pass_context
def audit_anchor(ctx: click.Context, now: str | None) -> None:
    """Anchor the chain head now (the daemon does it daily): record it in the
    anchors log beside the audit key and mail it to [daemon] admin_email.

    Example: mailintake audit anchor
    """
    click.echo(anchors.anchor(deployment(ctx), moment(ctx, now)).describe())


@audit.command("list")
@click.option("--id", "transaction_id", help="Only events of this transaction ID.")
@click.option("--user", help="Only events by this user (system for automatic ones).")
@output_options()
@click.pass_context
def audit_list(ctx: click.Context, transaction_id: str | None, user: str | None, fmt: str) -> None:
    """Read the audit log (admin).

    Example: mailintake audit list --id SRB-2568-000001
    """
    dep = deployment(ctx)
    require(dep.cfg, "admin")
    emit(list_events(dep.registry, transaction_id=transaction_id, user=user), fmt, EVENTS)


# --- rules -----------------------------------------------------------------------------------
@click.group()
def rules() -> None:
    """Validate rules/ (mail rules and services).

    Example: mailintake rules check
    """


@rules.command("check")
@click.pass_context
def rules_check(ctx: click.Context) -> None:
    """Report every error in rules/mail.toml and rules/services/*.toml with file
    and key, and in every template (templates/*.j2, notices.toml, problems.toml)
    rendered with sample data, with file and line.

    Example: mailintake rules check
    """
    result = check_all(config(ctx))
    for line in result.ok:
        click.echo(line)
    for e in result.errors:
        click.echo(f"error: {e}", err=True)
    if result.errors:
        raise click.ClickException(f"{len(result.errors)} error(s) in rules")
