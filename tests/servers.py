"""Real servers for the test suite: Dovecot (IMAP, and LMTP for the mail
exchanger), Postfix (a private instance delivering to Dovecot over LMTP) and
aiosmtpd (SMTP), each on a free loopback port in a temporary directory. No mocks."""

from __future__ import annotations

import asyncio
import grp
import itertools
import os
import pwd
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass, field
from datetime import datetime
from email import message_from_bytes
from email.message import Message
from email.policy import compat32
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from imapclient import IMAPClient


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_port(port: int, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise RuntimeError(f"nothing listens on port {port}")


# The LMTP side of a Dovecot that a Postfix delivers to. The user is looked up
# in the same passwd-file as for IMAP (the full address is the user name), so an
# unknown recipient is refused with 550 5.1.1 during the LMTP transaction and
# Postfix writes the delivery status notification itself.
DOVECOT_LMTP = """
service lmtp {{
  inet_listener lmtp {{
    address = 127.0.0.1
    port = {lmtp_port}
  }}
}}
protocol lmtp {{
  mail_plugins = $mail_plugins
}}
lmtp_save_to_detail_mailbox = no
# libfaketime reaches Dovecot's processes only through this list.
import_environment = TZ CORE_OUTOFMEM CORE_ERROR LISTEN_PID LISTEN_FDS {faketime_env}
"""

DOVECOT_CONF = """
base_dir = {root}/run
state_dir = {root}/state
log_path = {root}/dovecot.log
info_log_path = {root}/dovecot.log
protocols = {protocols}
listen = 127.0.0.1
hostname = {hostname}
ssl = yes
ssl_cert = <{root}/cert.pem
ssl_key = <{root}/key.pem
disable_plaintext_auth = no
auth_mechanisms = plain login
first_valid_uid = {uid}
default_internal_user = dovecot
default_login_user = dovenull
mail_location = maildir:{root}/mail/%u
mail_plugins = quota
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {root}/passwd
}}
userdb {{
  driver = passwd-file
  args = username_format=%u {root}/passwd
}}
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
  inet_listener imaps {{
    address = 127.0.0.1
    port = {ssl_port}
  }}
  chroot =
}}
service anvil {{
  chroot =
}}
protocol imap {{
  mail_plugins = $mail_plugins imap_quota
  mail_max_userip_connections = 100
}}
plugin {{
  quota = maildir:User quota
}}
{lmtp}
namespace inbox {{
  inbox = yes
  separator = /
  mailbox Junk {{
    special_use = \\Junk
    auto = create
  }}
  mailbox Sent {{
    special_use = \\Sent
    auto = create
  }}
  mailbox Drafts {{
    special_use = \\Drafts
    auto = create
  }}
  mailbox Trash {{
    special_use = \\Trash
    auto = create
  }}
}}
"""


# A deployment pointing at these servers (tests and bench/run.py).
CONFIG = """
[agency]
name_th = "เทศบาลตำบลบ้านใหม่"
name_en = "Ban Mai Subdistrict Municipality"
phone = "0 4400 0000"
mailbox_address = "saraban@banmai.go.th"
{agency_extra}

[mailbox]
kind = "imap"
host = "127.0.0.1"
port = {imap_port}
security = "none"
username = "{user}"
password = "{password}"
timeout_seconds = 20

[smtp]
host = "127.0.0.1"
port = {smtp_port}
security = "none"
retry_base_seconds = 60
give_up_hours = 24

[storage]
path = "{storage}"

[deployment]
mode = "test"

# The daemon's monthly build of the public site is on by default; the tests
# that want it (tests/test_publish.py) turn it on with their own path.
[publish]
enabled = false
"""


class Dovecot:
    """One Dovecot for the session; each test gets its own user (and Maildir)."""

    password = "secret"
    POOL = 2000

    def __init__(self, root: Path, *, lmtp: bool = False, user: str = "user", domain: str = "test", pool: int = POOL):
        if shutil.which("dovecot") is None:
            raise RuntimeError("dovecot is not installed: run `bash .ci/run` (it installs dovecot-imapd)")
        if lmtp and not Path("/usr/lib/dovecot/lmtp").exists():
            raise RuntimeError("dovecot's LMTP server is not installed: run `bash .ci/run` (it installs dovecot-lmtpd)")
        self.root = root
        self.port = free_port()
        self.ssl_port = free_port()
        # The name Dovecot writes in the ``by`` part of its LMTP Received: line.
        self.hostname = "mailbox.saraban.test"
        self.lmtp_port = free_port() if lmtp else 0
        # The mail exchanger's Dovecot runs on a clock a test may set (the
        # time it stores a message at, its INTERNALDATE); the shared one on the real clock.
        self.clock = FakeClock(root / "clock") if lmtp else None
        self.user_name, self.domain = user, domain
        # A throw-away CA (trustme) for the SSL and STARTTLS tests.
        import trustme

        self.ca = trustme.CA()
        cert = self.ca.issue_cert("localhost", "127.0.0.1")
        cert.private_key_pem.write_to_path(str(root / "key.pem"))
        cert.cert_chain_pems[0].write_to_path(str(root / "cert.pem"))
        self.ca.cert_pem.write_to_path(str(root / "ca.pem"))
        self.ca_file = root / "ca.pem"
        self.uid = pwd.getpwnam("dovecot").pw_uid
        self.gid = grp.getgrnam("dovecot").gr_gid
        self._users = itertools.count(1)
        os.chmod(root, 0o755)
        for d in ("mail", "home", "run", "state"):
            (root / d).mkdir()
        shutil.chown(root / "mail", "dovecot", "dovecot")
        shutil.chown(root / "home", "dovecot", "dovecot")
        # All users are written before the start: dovecot re-reads a changed
        # passwd-file only when its mtime (whole seconds) changes.
        lines = [self._line(f"{user}{i}@{domain}", None) for i in range(1, pool + 1)]
        lines += [self._line(f"quota{i}@test", 100) for i in range(1, 21)]
        (root / "passwd").write_text("".join(lines))
        self._quota_users = itertools.count(1)
        conf = DOVECOT_CONF.format(
            root=root,
            uid=self.uid,
            port=self.port,
            ssl_port=self.ssl_port,
            protocols="imap lmtp" if lmtp else "imap",
            hostname=self.hostname,
            lmtp=DOVECOT_LMTP.format(lmtp_port=self.lmtp_port, faketime_env=self.clock.names()) if self.clock else "",
        )
        (root / "dovecot.conf").write_text(conf)
        self.start()

    def start(self) -> None:
        env = {**os.environ, **self.clock.env} if self.clock else None
        subprocess.run(["dovecot", "-c", str(self.root / "dovecot.conf")], check=True, env=env)
        wait_port(self.port)
        wait_port(self.ssl_port)
        if self.lmtp_port:
            wait_port(self.lmtp_port)

    def stop(self) -> None:
        pidfile = self.root / "run" / "master.pid"
        if pidfile.exists():
            pid = int(pidfile.read_text().strip())
            os.kill(pid, signal.SIGTERM)
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                try:
                    os.kill(pid, 0)
                except ProcessLookupError:
                    break
                time.sleep(0.05)

    def restart(self) -> None:
        self.stop()
        self.start()

    def _line(self, user: str, quota_kb: int | None) -> str:
        extra = f"userdb_quota_rule=*:storage={quota_kb}K" if quota_kb else ""
        return f"{user}:{{PLAIN}}{self.password}:{self.uid}:{self.gid}::{self.root}/home/{user}::{extra}\n"

    def new_user(self, quota_kb: int | None = None) -> str:
        """A fresh mailbox; with ``quota_kb`` one of the users with a 100 KB quota."""
        if quota_kb:
            return f"quota{next(self._quota_users)}@test"
        return f"{self.user_name}{next(self._users)}@{self.domain}"

    def client(self, user: str) -> IMAPClient:
        c = IMAPClient("127.0.0.1", port=self.port, ssl=False, timeout=30)
        c.normalise_times = False
        c.login(user, self.password)
        return c


@dataclass
class Mailbox:
    """A test user's mailbox, spoken to over IMAP like any client would."""

    server: Dovecot
    user: str

    def append(self, raw: bytes, when: datetime, folder: str = "INBOX") -> int:
        with self.server.client(self.user) as c:
            if not c.folder_exists(folder):
                c.create_folder(folder)
            resp = c.append(folder, raw, msg_time=when)
        return int(resp.split(b"APPENDUID ")[1].split(b"]")[0].split()[1])

    def folder(self, folder: str = "INBOX") -> dict[int, dict[bytes, Any]]:
        with self.server.client(self.user) as c:
            if not c.folder_exists(folder):
                return {}
            c.select_folder(folder, readonly=True)
            uids = c.search(["NOT", "DELETED"])
            return dict(c.fetch(uids, ["FLAGS", "INTERNALDATE", "BODY.PEEK[]"])) if uids else {}

    def messages(self, folder: str = "INBOX") -> list[Message]:
        return [message_from_bytes(v[b"BODY[]"], policy=compat32) for v in self.folder(folder).values()]


@dataclass
class SmtpSink:
    """aiosmtpd on a free port; keeps every message it accepts. ``refuse`` makes
    it answer RCPT with a given code (e.g. 451 or 550)."""

    port: int = 0
    received: list[dict[str, Any]] = field(default_factory=list)
    refuse: tuple[int, str] | None = None
    controller: Controller | None = None

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: Any) -> str:
        if self.refuse:
            return f"{self.refuse[0]} {self.refuse[1]}"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.received.append({"from": envelope.mail_from, "to": list(envelope.rcpt_tos), "raw": bytes(envelope.content)})
        return "250 Message accepted"

    def start(self) -> SmtpSink:
        self.port = free_port()
        self.controller = Controller(self, hostname="127.0.0.1", port=self.port)
        self.controller.start()
        return self

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()
            self.controller = None

    def messages(self) -> list[Message]:
        return [message_from_bytes(m["raw"], policy=compat32) for m in self.received]


def run_async(coro: Any) -> Any:
    return asyncio.run(coro)


class CuttingProxy:
    """A TCP proxy to Dovecot that can cut the connection in the middle of a
    FETCH literal (and call ``on_cut``, e.g. to restart Dovecot), once."""

    def __init__(self, target_port: int, on_cut: Any = None):
        import threading

        self.target_port = target_port
        self.port = free_port()
        self.armed = False
        self.cuts = 0
        self.on_cut = on_cut
        self._srv = socket.create_server(("127.0.0.1", self.port))
        self._stop = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        import threading

        while not self._stop:
            try:
                client, _ = self._srv.accept()
            except OSError:
                return
            upstream = socket.create_connection(("127.0.0.1", self.target_port))
            threading.Thread(target=self._pipe, args=(client, upstream, False), daemon=True).start()
            threading.Thread(target=self._pipe, args=(upstream, client, True), daemon=True).start()

    def _pipe(self, src: socket.socket, dst: socket.socket, from_server: bool) -> None:
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                if from_server and self.armed and b"BODY[] {" in data:
                    # Half of the literal, then the line goes dead.
                    self.armed = False
                    self.cuts += 1
                    cut = data.index(b"BODY[] {") + 200
                    dst.sendall(data[:cut])
                    if self.on_cut is not None:
                        self.on_cut()
                    break
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                s.close()

    def close(self) -> None:
        self._stop = True
        self._srv.close()


# A private Postfix: the agency's mail exchanger in miniature. Everything it
# writes stays under its own root; it listens on loopback only, relays nothing
# (mail for any domain but the test domain is refused by the error transport)
# and hands the test domain's mail to Dovecot over LMTP.
POSTFIX_MAIN = """
compatibility_level = 3.6
queue_directory = {root}/queue
data_directory = {root}/data
maillog_file = {root}/maillog
maillog_file_prefixes = {root}
myhostname = {hostname}
mydomain = saraban.test
myorigin = $myhostname
inet_interfaces = loopback-only
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
relayhost =
mydestination =
alias_maps =
alias_database =
local_recipient_maps =
local_transport = error:5.1.1 no local delivery on this test exchanger
default_transport = error:5.7.1 no delivery outside the test domain
relay_transport = error:5.7.1 no relay from this test exchanger
virtual_mailbox_domains = {domain}
virtual_transport = lmtp:inet:127.0.0.1:{lmtp_port}
biff = no
smtputf8_enable = no
smtpd_banner = $myhostname ESMTP
delay_warning_time = 0
# The queue scan runs when asked (``postfix flush``), not on a timer.
queue_run_delay = 1h
minimal_backoff_time = 1h
maximal_backoff_time = 2h
# libfaketime reaches the daemons only through this list: the postfix command
# and master(8) drop every other variable.
import_environment = MAIL_CONFIG MAIL_DEBUG MAIL_LOGTAG TZ LANG=C {faketime_env}
"""

# No chroot (the daemons read the clock file under the root, and nothing of
# /etc is copied into a jail). Dovecot 2.3's LMTP does not offer SMTPUTF8, so
# the LMTP client must not insist on it: without ``smtputf8_enable = no`` here
# a message whose headers are raw UTF-8 and whose sender asked for SMTPUTF8
# bounces with 5.6.7 "SMTPUTF8 is required, but was not offered".
POSTFIX_MASTER = """
127.0.0.1:{port} inet n - n - - smtpd
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
lmtp      unix  -       -       n       -       -       lmtp
"""


def libfaketime() -> str | None:
    """The path of libfaketime.so.1 (Debian's ``libfaketime``), or None."""
    for pattern in ("usr/lib/*/faketime/libfaketime.so.1", "usr/lib/faketime/libfaketime.so.1"):
        found = sorted(Path("/").glob(pattern))
        if found:
            return str(found[0])
    return None


class FakeClock:
    """A clock file for libfaketime. A server started with ``env`` (and the
    variables' names in its own import list) reads it on every clock call:
    ``set(when)`` makes its clock read ``when`` from now on and run on from
    there, so a time is chosen, never waited for."""

    def __init__(self, path: Path):
        preload = libfaketime()
        if preload is None:
            raise RuntimeError("libfaketime is not installed: run `bash .ci/run` (it installs libfaketime)")
        self.path = path
        self.set(None)
        self.env = {"LD_PRELOAD": preload, "FAKETIME_TIMESTAMP_FILE": str(path), "FAKETIME_NO_CACHE": "1"}

    def names(self) -> str:
        """The variables as an import_environment list (NAME=value)."""
        return " ".join(f"{k}={v}" for k, v in self.env.items())

    def set(self, when: datetime | None) -> None:
        """None puts the clock back to the real time."""
        offset = 0.0 if when is None else when.timestamp() - time.time()
        self.path.write_text(f"{offset:+.3f}\n")
        self.path.chmod(0o644)


class Postfix:
    """One private Postfix for the session (``postfix -c ROOT/etc``), run as
    root like the system's, under libfaketime: ``clock.set(when)`` chooses
    the time in the Received: line it stamps on accepting a message."""

    hostname = "mx.saraban.test"

    def __init__(self, root: Path, domain: str, lmtp_port: int):
        if shutil.which("postfix") is None:
            raise RuntimeError("postfix is not installed: run `bash .ci/run` (it installs postfix)")
        self.root = root
        self.port = free_port()
        self.domain = domain
        os.chmod(root, 0o755)
        # ``postfix check`` makes the queue's subdirectories, owned by mail_owner.
        (root / "queue").mkdir(mode=0o755)
        (root / "data").mkdir(mode=0o700)
        shutil.chown(root / "data", "postfix", "postfix")
        self.clock = FakeClock(root / "clock")
        self.env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", **self.clock.env}
        faketime_env = self.clock.names()
        # The configuration directory holds root's files only (``postfix
        # check`` wants it so); the queue and data directories sit beside it.
        self.config = root / "etc"
        self.config.mkdir()
        (self.config / "main.cf").write_text(
            POSTFIX_MAIN.format(root=root, hostname=self.hostname, domain=domain, lmtp_port=lmtp_port, faketime_env=faketime_env)
        )
        (self.config / "master.cf").write_text(POSTFIX_MASTER.format(port=self.port))
        self._postfix("check")
        self.start()

    def _postfix(self, *args: str) -> str:
        # Postfix writes its errors to stderr only on a terminal; otherwise
        # they are in maillog_file, which the error message quotes.
        done = subprocess.run(["postfix", "-c", str(self.config), *args], capture_output=True, text=True, env=self.env)
        if done.returncode != 0:
            raise RuntimeError(f"postfix {' '.join(args)} failed: {done.stderr}{self.log()[-2000:]}")
        return done.stderr

    def start(self) -> None:
        self._postfix("start")
        wait_port(self.port)

    def stop(self) -> None:
        self._postfix("stop")

    def flush(self) -> None:
        """Deliver the deferred mail now (``postfix flush``, as ``postqueue -f``)."""
        self._postfix("flush")

    def queue(self) -> list[dict[str, Any]]:
        """The messages in the queue (``postqueue -j``: one JSON object each)."""
        import json

        done = subprocess.run(["postqueue", "-c", str(self.config), "-j"], capture_output=True, text=True, check=True)
        return [json.loads(line) for line in done.stdout.splitlines() if line.strip()]

    def log(self) -> str:
        path = self.root / "maillog"
        return path.read_text(errors="replace") if path.exists() else ""

    def wait(self, predicate: Any, what: str, timeout: float = 20.0) -> Any:
        """Poll until ``predicate()`` gives something true: delivery and
        bounces are asynchronous in an MTA."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = predicate()
            if found:
                return found
            time.sleep(0.1)
        raise AssertionError(f"postfix: no {what} after {timeout:.0f} s; log:\n{self.log()[-3000:]}")
