"""The trust boundary and the receipt time (R1, issue 17), on real-looking
Received: chains (``tests/data/trust``): which line is the agency's MX taking
the message from outside, what a sender's forged line changes (nothing), when
INTERNALDATE is the fallback, the receipt_skew flag, which spam verdicts count;
then the road without servers, a quarantine retry, and one message through
the test Dovecot whose INTERNALDATE is after hours but whose MX time is not.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import datetime
from email.message import Message
from pathlib import Path

import pytest
from conftest import Env
from mails import at

from mailintake.base.config import load
from mailintake.base.data import applications
from mailintake.base.deployment import Deployment
from mailintake.base.trust import INTERNALDATE, RECEIPT_SKEW, RECEIVED, TrustBoundary, by_host, from_parts, received_at
from mailintake.intake import classify as classify_module
from mailintake.intake.classify import SPAM, spam_verdict
from mailintake.intake.parse import parse, parse_headers_only
from mailintake.intake.pipeline import Road
from mailintake.intake.sweep import Intake

DATA = Path(__file__).parent / "data" / "trust"
HOSTS = ("mx.banmai.go.th", "mailbox.banmai.go.th")
BOUNDARY = TrustBoundary(HOSTS, 10)
# The mailbox stored the messages of these files at 16:45 on a working Tuesday.
STORED = at("2025-12-09 16:45")
NOW = at("2025-12-09 16:50")


def raw_of(name: str) -> bytes:
    return (DATA / name).read_bytes()


def headers_of(name: str) -> Message:
    raw = raw_of(name)
    return parse_headers_only(raw[: raw.index(b"\r\n\r\n") + 2])


def chain(name: str) -> tuple[str, ...]:
    return parse(raw_of(name)).received_chain


def with_trust(config: Path, hosts: tuple[str, ...], skew: int = 10) -> None:
    """The test config with its own [trust] table (one it had replaced)."""
    text = re.sub(r"(?ms)^\[trust\]\n.*?(?=^\[|\Z)", "", config.read_text(encoding="utf-8"))
    hosts_toml = ", ".join(f'"{h}"' for h in hosts)
    config.write_text(
        f"{text.rstrip()}\n\n[trust]\nmail_hosts = [{hosts_toml}]\nreceipt_skew_minutes = {skew}\n", encoding="utf-8"
    )


# --- reading the chain ---------------------------------------------------------------------------
def test_the_agencys_mx_line_is_the_entry_and_its_time_is_the_receipt_whatever_its_offset() -> None:
    receipt = BOUNDARY.receipt(headers_of("trusted-entry.eml"))
    assert receipt is not None
    # Written as 09:20:00 +0000 by the MX: 16:20 in Bangkok.
    assert receipt.at == at("2025-12-09 16:20")
    assert (receipt.host, receipt.header_index) == ("mx.banmai.go.th", 1)
    # The same from the parsed message's chain, as the road reads it.
    assert BOUNDARY.receipt_in(chain("trusted-entry.eml")) == receipt
    rt = BOUNDARY.receipt_time(chain("trusted-entry.eml"), STORED)
    assert (rt.at, rt.internaldate, rt.source, rt.skewed) == (at("2025-12-09 16:20"), STORED, RECEIVED, True)


def test_a_received_line_forged_on_the_senders_side_is_never_trusted() -> None:
    # Below the sender's own server: outside the run.
    receipt = BOUNDARY.receipt(headers_of("forged-below.eml"))
    assert receipt is not None and receipt.at == at("2025-12-09 16:20") and receipt.header_index == 1
    # Right below the MX's own line (a sender talking straight to the MX and
    # greeting with the MX's name): the MX saw an outside host ("unknown"), so
    # the run ends there.
    receipt = BOUNDARY.receipt(headers_of("forged-direct.eml"))
    assert receipt is not None and receipt.at == at("2025-12-09 16:20") and receipt.header_index == 1


def test_no_trusted_line_falls_back_to_internaldate() -> None:
    assert BOUNDARY.receipt(headers_of("no-trusted.eml")) is None
    rt = BOUNDARY.receipt_time(chain("no-trusted.eml"), STORED)
    assert (rt.at, rt.source, rt.trusted, rt.skewed) == (STORED, INTERNALDATE, None, False)
    # With no hosts named nothing is trusted, as before the boundary existed.
    assert TrustBoundary().receipt(headers_of("trusted-entry.eml")) is None
    assert TrustBoundary().receipt_time(chain("trusted-entry.eml"), STORED).at == STORED


def test_a_garbled_date_on_the_entry_line_falls_back_to_internaldate() -> None:
    assert BOUNDARY.receipt(headers_of("garbled-date.eml")) is None
    assert BOUNDARY.receipt_time(chain("garbled-date.eml"), STORED).source == INTERNALDATE
    # The boundary itself still stands: the lines are the agency's.
    assert BOUNDARY.trusted_run(chain("garbled-date.eml")) == 2


def test_the_skew_flag_follows_receipt_skew_minutes() -> None:
    received = chain("trusted-entry.eml")  # MX 16:20, mailbox 16:45: 25 minutes
    assert TrustBoundary(HOSTS, 10).receipt_time(received, STORED).skewed
    assert not TrustBoundary(HOSTS, 30).receipt_time(received, STORED).skewed
    assert not TrustBoundary(HOSTS, 0).receipt_time(received, STORED).skewed  # 0: never flagged
    assert not TrustBoundary(HOSTS, 10).receipt_time(received, at("2025-12-09 16:20:01")).skewed


def test_received_lines_are_read_through_comments_folding_case_and_address_literals() -> None:
    line = (
        "from client.example (client.example [IPv6:2001:db8::5]) (comment with by evil.example; and a semicolon)\r\n"
        "\tBY [IPv6:2001:DB8:0::25] (Postfix) WITH ESMTPS id X; Tue, 9 Dec 2025 09:20:00 -0000"
    )
    assert by_host(line) == "2001:db8::25"
    assert from_parts(line) == ({"client.example"}, {"client.example", "2001:db8::5"})
    assert from_parts("from [192.0.2.1] (helo=Foo.Example)") == ({"192.0.2.1", "foo.example"}, set())
    assert received_at(line) == datetime.fromisoformat("2025-12-09T09:20:00+00:00")
    assert TrustBoundary(["[IPv6:2001:db8::25]"]).receipt_in([line]) is not None
    # Which hop came from inside: a reverse name or address the host saw, or a
    # greeting nothing contradicts; an unconfirmed name ("unknown") is outside
    # unless its address is listed.
    relay = TrustBoundary([*HOSTS, "relay.banmai.go.th"])
    assert relay.came_from_inside("from relay.banmai.go.th (relay.banmai.go.th [10.0.0.3]) by mx.banmai.go.th; x")
    assert relay.came_from_inside("from mx.banmai.go.th ([10.0.0.25]) by mailbox.banmai.go.th with LMTP; x")
    assert not relay.came_from_inside("from relay.banmai.go.th (unknown [10.0.0.3]) by mx.banmai.go.th; x")
    assert TrustBoundary(["10.0.0.3"]).came_from_inside("from relay.banmai.go.th (unknown [10.0.0.3]) by mx; x")
    assert not relay.came_from_inside("by mx.banmai.go.th (Postfix, from userid 1000) id X; x")
    assert by_host("from a by MX.Banmai.Go.Th. with ESMTP; Tue, 9 Dec 2025 16:20:00 +0700") == "mx.banmai.go.th"
    assert received_at("from a by b; Tue, 9 Dec 2025 16:20:00") is None  # no zone
    assert received_at("from a by b with ESMTP id X") is None  # no date at all
    assert received_at("from a by b; yesterday") is None


# --- which verdicts count ------------------------------------------------------------------------
def test_a_spam_flag_the_sender_wrote_does_not_make_spam_but_the_mxs_does(tmp_path: Path) -> None:
    env = Env(tmp_path, None, None)
    rules = Deployment.build(load(env.config)).rules
    assert spam_verdict(rules, headers_of("spam-by-sender.eml"), BOUNDARY) is None
    verdict = spam_verdict(rules, headers_of("spam-by-mx.eml"), BOUNDARY)
    assert verdict is not None and verdict.kind == SPAM
    # With no hosts named every header counts (the behaviour before the boundary).
    selfmade = spam_verdict(rules, headers_of("spam-by-sender.eml"), TrustBoundary())
    assert selfmade is not None and selfmade.kind == SPAM
    # What lies inside: the fields above and including the MX's line.
    names = [k.lower() for k, _v in BOUNDARY.trusted_headers(headers_of("spam-by-mx.eml"))]
    assert names == ["received", "x-spam-flag", "x-spam-score", "received"]
    assert BOUNDARY.trusted_headers(headers_of("no-trusted.eml")) == []


# --- the road, without servers -------------------------------------------------------------------
@pytest.fixture
def dep(tmp_path: Path) -> Iterator[Deployment]:
    env = Env(tmp_path, None, None)
    with_trust(env.config, HOSTS)
    deployment = Deployment.build(load(env.config))
    yield deployment
    deployment.close()


def test_the_road_runs_the_deadlines_from_the_mx_time_and_flags_the_skew(dep: Deployment) -> None:
    road = Road(dep)
    try:
        outcome = road.process(None, raw_of("trusted-entry.eml"), NOW, received=STORED)
    finally:
        road.close()
    assert outcome.kind == "application" and outcome.transaction_id
    app = applications.get(dep.registry, outcome.transaction_id)
    assert app is not None
    # Accepted by the MX at 16:20 on a working day: due that day, not the next.
    assert app.received_at == "2025-12-09T16:20:00+07:00"
    assert app.deemed_received_at == "2025-12-09T16:20:00+07:00"
    assert app.ack_due_at == "2025-12-09T16:30:00+07:00"
    assert RECEIPT_SKEW in app.flags
    assert app.ack_reason.startswith(
        "received by mx.banmai.go.th at Tue 9 Dec 16:20 (the agency's mail server; the mailbox stored it at Tue 9 Dec 16:45); "
        "in working time"
    )
    [m] = applications.messages_of(dep.registry, outcome.transaction_id)
    assert (m.receipt_source, m.trusted_received_at, m.received_at) == (
        RECEIVED,
        "2025-12-09T16:20:00+07:00",
        "2025-12-09T16:20:00+07:00",
    )
    assert datetime.fromisoformat(m.internaldate or "") == STORED


def test_the_road_falls_back_to_internaldate_and_says_so(dep: Deployment) -> None:
    road = Road(dep)
    try:
        outcome = road.process(None, raw_of("no-trusted.eml"), NOW, received=STORED)
    finally:
        road.close()
    assert outcome.transaction_id
    app = applications.get(dep.registry, outcome.transaction_id)
    assert app is not None
    # 16:45 is after hours; 10 Dec is Constitution Day: deemed Thursday 08:30.
    assert app.received_at == "2025-12-09T16:45:00+07:00"
    assert app.deemed_received_at == "2025-12-11T08:30:00+07:00"
    assert app.ack_reason.startswith("received by the mailbox at Tue 9 Dec 16:45 (no trusted Received header); after hours")
    assert RECEIPT_SKEW not in app.flags
    [m] = applications.messages_of(dep.registry, outcome.transaction_id)
    assert (m.receipt_source, m.trusted_received_at) == (INTERNALDATE, None)


def test_a_quarantine_retry_keeps_the_receipt_time(dep: Deployment, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*_args: object, **_kw: object) -> None:
        raise RuntimeError("classifier broken for this test")

    intake = Intake(dep)
    dep.store.put(raw_of("trusted-entry.eml"))  # kept first, as a sweep does (R14)
    try:
        with monkeypatch.context() as patch:
            patch.setattr(classify_module, "classify", broken)
            held = intake.process(None, raw_of("trusted-entry.eml"), NOW, received=STORED)
        assert held.kind == "quarantined"
        [outcome] = intake.retry_quarantined(at("2025-12-10 09:00"))
    finally:
        intake.close()
    assert outcome.kind == "application" and outcome.transaction_id
    app = applications.get(dep.registry, outcome.transaction_id)
    assert app is not None
    assert (app.received_at, app.ack_due_at) == ("2025-12-09T16:20:00+07:00", "2025-12-09T16:30:00+07:00")
    assert RECEIPT_SKEW in app.flags


# --- through the test Dovecot --------------------------------------------------------------------
def test_mail_the_mx_took_at_1620_but_the_mailbox_stored_after_1630_is_due_the_same_day(deploy: Env) -> None:
    assert deploy.mailbox is not None
    with_trust(deploy.config, HOSTS)
    # APPEND sets the INTERNALDATE: the mailbox stored it at 16:45, after hours.
    deploy.mailbox.append(raw_of("trusted-entry.eml"), STORED)
    deploy.run("sweep", "--now", "2025-12-09T16:50:00+07:00")
    [app] = deploy.json("triage", "list")
    assert app["received_at"] == "2025-12-09T16:20:00+07:00"
    assert app["deemed_received_at"] == "2025-12-09T16:20:00+07:00"
    assert app["ack_due_at"] == "2025-12-09T16:30:00+07:00"
    assert RECEIPT_SKEW in app["flags"]
    shown = deploy.json("triage", "show", app["transaction_id"])
    assert shown["receipt_source"] == RECEIVED
    assert shown["trusted_received_at"] == "2025-12-09T16:20:00+07:00"
    assert datetime.fromisoformat(shown["internaldate"]) == STORED
    assert shown["messages"][0]["receipt_source"] == RECEIVED
    text = deploy.run("triage", "show", app["transaction_id"]).stdout
    assert "by the agency's mail server, trusted Received header; the mailbox stored it at 2025-12-09T16:45:00+07:00" in text
    assert "received by mx.banmai.go.th at Tue 9 Dec 16:20 (the agency's mail server" in text
    assert RECEIPT_SKEW in text


def test_authentication_results_nobody_vouches_for_count_for_nothing() -> None:
    # A sender can write "dmarc=pass" for the victim's domain; with no host named
    # and no authserv-id, the header is theirs, and a pass would lift the caps on
    # first acknowledgements to that domain (issue 11).
    forged = [
        ("Authentication-Results", "mx.banmai.go.th; dmarc=pass header.from=victim.example"),
        ("From", "victim@victim.example"),
    ]
    assert TrustBoundary().authentication(forged) is None
    named = TrustBoundary(authserv_id="mx.banmai.go.th").authentication(forged)
    assert named is not None and named.dmarc == "pass" and named.dmarc_domain == "victim.example"
