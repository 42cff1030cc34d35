"""Services are data: the shipped services validate, broken ones are reported
with file and key, and mail is matched to a service by code or keywords."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import Env
from mails import at, mail

from mailintake.base.rules import ServicesError, load_rules, load_services
from mailintake.cli import cli
from mailintake.desk.services import juristic_problems, match_service
from samples.make_samples import scanned_pdf

ROOT = Path(__file__).parent.parent


def test_shipped_services_are_valid() -> None:
    services = load_services([ROOT / "rules"])
    assert {s.id: (s.code, s.risk, s.fee, s.time_limit_days) for s in services} == {
        "event-permit": ("EVT", "medium", 200, 7),
        "document-certification": ("CERT", "low", None, 3),
        "tm30": ("TM30", "high", None, 1),
    }


def test_matching_by_code_then_keywords() -> None:
    services = load_services([ROOT / "rules"])
    assert match_service(services, "[TM30] new tenant", "").id == "tm30"  # type: ignore[union-attr]
    assert match_service(services, "คำขอ", "ขออนุญาตจัดงานลอยกระทงที่วัด").id == "event-permit"  # type: ignore[union-attr]
    assert match_service(services, "Please certify a copy", "").id == "document-certification"  # type: ignore[union-attr]
    assert match_service(services, "hello", "how are you") is None
    # A code inside a word does not count.
    assert match_service(services, "CERTAINLY not", "") is None


def test_rule_r9_has_one_copy_for_registration_and_the_clerk() -> None:
    rules = load_rules(ROOT / "rules" / "mail.toml")
    services = {s.id: s for s in load_services([ROOT / "rules"])}
    # A service closed to companies, from free webmail, without a power of attorney: all three.
    closed = dataclasses.replace(services["tm30"], juristic_allowed=False)
    assert juristic_problems(rules, closed, "Gmail.COM", ["id.pdf"]) == [
        "juristic_not_allowed",
        "juristic_webmail",
        "juristic_no_poa",
    ]
    # The domain is compared in lower case, as addresses are.
    assert juristic_problems(rules, services["event-permit"], "GMAIL.com", ["scan.pdf"]) == [
        "juristic_webmail",
        "juristic_no_poa",
    ]
    # The company's own domain and a power of attorney among the files (any case): nothing.
    assert juristic_problems(rules, services["event-permit"], "acme.co.th", ["POA-signed.PDF"]) == []
    assert juristic_problems(rules, services["event-permit"], "acme.co.th", ["หนังสือมอบอำนาจ.pdf"]) == []
    # The clerk found the power of attorney in order (triage check-documents --poa ok).
    assert juristic_problems(rules, services["event-permit"], "acme.co.th", [], poa_ok=True) == []
    assert juristic_problems(rules, None, "acme.co.th", []) == ["juristic_no_poa"]


def test_every_error_is_reported_with_file_and_key(tmp_path: Path) -> None:
    d = tmp_path / "rules" / "services"
    d.mkdir(parents=True)
    (d / "bad.toml").write_text(
        'id = "Bad Id"\ncode = "x"\nname_th = ""\nrisk = "extreme"\nfee = -5\ncolour = 1\n'
        '[[documents]]\nname_th = "a"\nname_en = "b"\ntypes = ["exe"]\n'
    )
    (d / "broken.toml").write_text("id = \n")
    with pytest.raises(ServicesError) as exc:
        load_services([tmp_path / "rules"])
    errors = exc.value.errors
    for expected in (
        "bad.toml: colour: unknown key",
        "bad.toml: id: use lower-case letters",
        "bad.toml: code: use 2 to 10 capital letters",
        "bad.toml: name_th: expected non-empty text",
        "bad.toml: name_en: missing",
        "bad.toml: risk: expected one of low, medium, high",
        "bad.toml: fee: expected an amount in baht",
        "bad.toml: time_limit_days: missing",
        "bad.toml: documents[1].types: expected a list of",
        "broken.toml: not valid TOML",
    ):
        assert any(e.startswith(expected) for e in errors), expected
    cfg = tmp_path / "config.toml"
    cfg.write_text(f'[agency]\nrules_dir = "{tmp_path / "rules"}"\n[storage]\npath = "{tmp_path}/var"\n')
    (tmp_path / "rules" / "mail.toml").write_text((ROOT / "rules" / "mail.toml").read_text())
    r = CliRunner().invoke(cli, ["--config", str(cfg), "rules", "check"])
    assert r.exit_code == 1
    assert "error: bad.toml: risk: expected one of low, medium, high" in r.output
    assert f"Error: {len(errors)} error(s) in rules" in r.output


def test_application_gets_its_service_and_a_question_is_an_inquiry(deploy: Env) -> None:
    assert deploy.mailbox is not None and deploy.smtp is not None
    deploy.mailbox.append(
        mail("[EVT] งานวัด", attachments=[("form.pdf", scanned_pdf(2480, 3508), "application/pdf")]).as_bytes(),
        at("2025-12-09 09:00"),
    )
    deploy.mailbox.append(mail("สอบถามเวลาเปิดทำการ", body="สำนักงานเปิดวันเสาร์หรือไม่คะ").as_bytes(), at("2025-12-09 09:05"))
    deploy.mailbox.append(mail("INFO fees for TM30?", body="How much is it?").as_bytes(), at("2025-12-09 09:10"))
    deploy.run("sweep", "--now", "2025-12-09T09:30:00+07:00")
    apps = deploy.json("triage", "list")
    assert [(a["kind"], a["service"]) for a in apps] == [("application", "event-permit"), ("inquiry", None), ("inquiry", "tm30")]
    acks = deploy.smtp.messages()
    assert len(acks) == 3
    body = acks[0].get_payload()[0].get_payload(decode=True).decode()
    assert "บริการ: การขออนุญาตจัดงานหรือกิจกรรมในที่สาธารณะ" in body and "Service: Permit to hold an event" in body
    inquiry = acks[1].get_payload()[0].get_payload(decode=True).decode()
    assert "an officer will answer your question by email" in inquiry
