"""Load: several IMAP clients append thousands of messages while the daemon
runs; the daemon is killed with SIGKILL midway and started again; at the end
the ledger must balance: every message registered once, acknowledged once.

    python bench/load.py --messages 3000 --clients 6 --kills 2
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from email.message import EmailMessage
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from servers import CONFIG, Dovecot, Mailbox, SmtpSink  # noqa: E402

BKK = timezone(timedelta(hours=7))


@dataclass
class LoadResult:
    messages: int
    clients: int
    seconds: float
    kills: int
    registered: int
    duplicates: int
    acknowledged: int
    lost: int

    def as_dict(self) -> dict[str, object]:
        return self.__dict__.copy()


def _message(client: int, i: int) -> bytes:
    msg = EmailMessage()
    msg["From"] = f"ผู้ยื่น {client}-{i} <load{client}x{i}@example.com>"
    msg["To"] = "saraban@banmai.go.th"
    msg["Subject"] = f"คำขอทดสอบโหลด {client}-{i}"
    msg["Message-ID"] = f"<load-{client}-{i}@example.com>"
    msg["Date"] = "Tue, 09 Dec 2025 09:00:00 +0700"
    msg.set_content("ขออนุญาตจัดงาน\n" * 5)
    return msg.as_bytes()


def _daemon(config: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "mailintake", "--config", str(config), "run"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )


def run_load(messages: int, clients: int, kills: int, timeout: float = 600) -> LoadResult:
    root = Path(tempfile.mkdtemp(prefix="mailintake-load-"))
    server = Dovecot(root)
    smtp = SmtpSink().start()
    try:
        box = Mailbox(server, server.new_user())
        config = root / "config.toml"
        config.write_text(
            CONFIG.format(
                agency_extra="",
                imap_port=server.port,
                user=box.user,
                password=server.password,
                smtp_port=smtp.port,
                storage=root / "var",
            )
            + "\n[daemon]\npoll_seconds = 5\noutbox_seconds = 5\n[limits]\nanswers_per_address_per_hour = 100\nanswers_per_hour = 100000\n",
            encoding="utf-8",
        )
        config.chmod(0o600)  # it holds the mail passwords: the daemon refuses one others can read
        per_client = messages // clients
        total = per_client * clients
        appended = Counter[int]()
        start = time.monotonic()
        daemon = _daemon(config)

        def client(c: int) -> None:
            when = datetime(2025, 12, 9, 9, 0, tzinfo=BKK)
            with server.client(box.user) as imap:
                for i in range(per_client):
                    imap.append("INBOX", _message(c, i), msg_time=when)
                    appended[c] += 1

        threads = [threading.Thread(target=client, args=(c,)) for c in range(clients)]
        for t in threads:
            t.start()
        done_kills = 0
        while any(t.is_alive() for t in threads):
            time.sleep(0.2)
            # Kill the daemon with SIGKILL at evenly spaced points of the load.
            if done_kills < kills and sum(appended.values()) >= total * (done_kills + 1) / (kills + 1):
                os.kill(daemon.pid, signal.SIGKILL)
                daemon.wait()
                done_kills += 1
                daemon = _daemon(config)
        for t in threads:
            t.join()

        db = root / "var" / "mailintake.db"

        def registered() -> int:
            import sqlite3

            if not db.exists():
                return 0
            conn = sqlite3.connect(db)
            try:
                return int(conn.execute("SELECT COUNT(*) FROM applications WHERE acknowledged_at IS NOT NULL").fetchone()[0])
            except sqlite3.OperationalError:
                return 0
            finally:
                conn.close()

        deadline = time.monotonic() + timeout
        while registered() < total and time.monotonic() < deadline:
            time.sleep(0.5)
        seconds = time.monotonic() - start
        daemon.send_signal(signal.SIGTERM)
        daemon.wait(60)

        import sqlite3

        conn = sqlite3.connect(db)
        kinds = Counter(k for (k,) in conn.execute("SELECT kind FROM messages"))
        apps = conn.execute("SELECT COUNT(*), COUNT(DISTINCT subject) FROM applications").fetchone()
        acks = conn.execute("SELECT COUNT(DISTINCT message_id) FROM outbox WHERE kind = 'ack' AND status = 'sent'").fetchone()[0]
        conn.close()
        delivered = {m["Message-ID"] for m in smtp.messages()}
        return LoadResult(
            messages=total,
            clients=clients,
            seconds=round(seconds, 1),
            kills=done_kills,
            registered=apps[1],
            duplicates=apps[0] - apps[1] + kinds["duplicate"],
            acknowledged=min(acks, len(delivered)),
            lost=total - apps[1],
        )
    finally:
        smtp.stop()
        server.stop()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--messages", type=int, default=3000)
    ap.add_argument("--clients", type=int, default=6)
    ap.add_argument("--kills", type=int, default=2)
    args = ap.parse_args()
    result = run_load(args.messages, args.clients, args.kills)
    print(json.dumps(result.as_dict(), indent=2))


if __name__ == "__main__":
    main()
