"""The public site (issue 14): `mailintake publish --out DIR` after a replayed
month against the real Dovecot and SMTP server: every page there, every
service's manual in Thai and English with its fee, time limit and documents,
links relative and resolving to files, the sitemap and the open data, and no
applicant's email, phone, ID number or name anywhere in it. Then the daemon's
monthly run: on the first working day of the month (government calendar),
once, and `status --json` says so."""

from __future__ import annotations

import getpass
import json
import re
import shutil
from datetime import date, datetime
from html import unescape
from html.parser import HTMLParser
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from conftest import Env
from month import CLERK, Month, replay_month
from pypdf import PdfReader

from mailintake.base.calendar import WorkCalendar
from mailintake.base.config import load
from mailintake.base.deployment import Deployment
from mailintake.ops.daemon import Daemon
from mailintake.ops.manuals import page_name
from mailintake.ops.publishing import first_working_day, monthly_publish_due

BKK = ZoneInfo("Asia/Bangkok")
# The site as the daemon would build it on the first working day of February
# 2026, after the month tests/month.py replays (January 2026, one December application).
BUILT_AT = "2026-02-02T11:00:00+07:00"


def publish_after_a_month(env: Env, out: Path) -> Month:
    """tests/month.py's month, then `mailintake publish` into ``out`` as a clerk."""
    month = replay_month(env)
    lines = env.run("publish", "--out", str(out), "--now", BUILT_AT, env=CLERK).stdout.splitlines()
    assert lines[0].startswith(f"site written to {out}:") and "(2025-12 to 2026-01)" in lines[0]
    assert lines[1].startswith("sitemap.xml left out: no [publish] base_url") and len(lines) == 2
    return month


def variants(number: str) -> set[str]:
    """A phone or ID number as it may be written: as given, digits only, and
    a 13-digit ID as printed on the card (1-2345-67890-12-3)."""
    digits = re.sub(r"\D", "", number)
    found = {number, digits}
    if len(digits) == 13:
        found.add(f"{digits[0]}-{digits[1:5]}-{digits[5:10]}-{digits[10:12]}-{digits[12]}")
    return found


class Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.links: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for name, value in attrs:
            if name in ("href", "src") and value is not None:
                self.links.append(value)


def links_of(page: Path) -> list[str]:
    parser = Links()
    parser.feed(page.read_text(encoding="utf-8"))
    return parser.links


def section(html: str, lang: str) -> str:
    """The Thai (``th``) or English (``en``) half of a page, its HTML unescaped."""
    found = re.search(rf'<section class="lang" id="{lang}" lang="{lang}">(.*?)</section>', html, re.S)
    assert found, f"no {lang} section"
    return unescape(found.group(1))


def text_of(path: Path) -> str:
    if path.suffix == ".pdf":
        return "\n".join(p.extract_text() or "" for p in PdfReader(str(path)).pages)
    return path.read_bytes().decode("utf-8", errors="ignore")


@pytest.mark.slow
def test_the_site_after_a_replayed_month(deploy: Env, tmp_path: Path) -> None:
    out = tmp_path / "site"
    month = publish_after_a_month(deploy, out)

    # The pages.
    for page in ("index.html", "services/index.html", "e-service.html", "stats/index.html", "register/index.html"):
        assert (out / page).is_file(), page
    for page in (
        "verify.html",
        "feedback.html",
        "sitemap.html",
        "site.css",
        "fonts/Sarabun-Regular.ttf",
        "fonts/Sarabun-Bold.ttf",
    ):
        assert (out / page).is_file(), page
    css = (out / "site.css").read_text(encoding="utf-8")
    assert 'font-family: "Sarabun"' in css and 'url("fonts/Sarabun-Regular.ttf")' in css
    assert re.search(r"\.facts b \{[^}]*overflow-wrap: anywhere", css)  # a long mailbox address wraps in its card
    assert (out / "fonts/Sarabun-Regular.ttf").read_bytes()[:4] == b"\x00\x01\x00\x00"

    # Every service's manual, in Thai and in English, with its fee, time limit and documents.
    cfg = load(deploy.config)
    dep = Deployment.build(cfg)
    services = dep.services
    dep.close()
    assert len(services) >= 3
    index = (out / "services/index.html").read_text(encoding="utf-8")
    for s in services:
        html = (out / "services" / page_name(s)).read_text(encoding="utf-8")
        th, en = section(html, "th"), section(html, "en")
        assert html.index('id="th"') < html.index('id="en"')  # Thai first
        assert s.name_th in th and s.name_en in en
        days = f"{s.time_limit_days} working day" + ("" if s.time_limit_days == 1 else "s")
        assert f"{s.time_limit_days} วันทำการ" in th and f"{days}<" in en
        if s.fee:
            assert f"{s.fee:,} บาท" in th and f"{s.fee:,} baht" in en
        else:
            assert "ไม่เสียค่าธรรมเนียม" in th and "No fee" in en
        for d in s.documents:
            assert d.name_th in th and d.name_en in en
        for half in (th, en):
            assert "saraban@banmai.go.th" in half and f"[{s.code}]" in half
        assert "รหัสผ่าน" in th and "password" in en  # the permit PDF and its separate password
        assert "ตอบกลับที่: " in th and "Reply to: " in en  # the reply-address line (R5, desk.replyto)
        assert "office.contact@example.org" in en and "somchai" not in html.lower()  # not the demo applicant's name
        if s.time_limit_days == 1:
            assert "1 working day<" in en and "1 working days" not in en
        assert f'href="{page_name(s)}#th"' in index and f'href="{page_name(s)}#en"' in index

    # The statistics of each month, their open data beside, the register and how to verify.
    stats = (out / "stats/index.html").read_text(encoding="utf-8")
    for m, th, en in (("2025-12", "ธันวาคม 2568", "December 2025"), ("2026-01", "มกราคม 2569", "January 2026")):
        assert f'href="{m}/index.html"' in stats and th in stats and en in stats
        month_page = (out / f"stats/{m}/index.html").read_text(encoding="utf-8")
        assert "../../site.css" in month_page and "../../index.html" in month_page
        # The site's layout: its header, menu and language switch; Thai first, English below.
        assert '<header class="site">' in month_page and '<nav class="main"' in month_page and 'href="#en"' in month_page
        th, en = section(month_page, "th"), section(month_page, "en")
        assert month_page.index('id="th"') < month_page.index('id="en"')
        assert "ความพึงพอใจ" in th and "Satisfaction" not in th and 'lang="en"' not in th
        assert "Satisfaction" in en and "ความพึงพอใจ" not in en
        assert '<div class="table"><table>' in th and '<div class="table"><table>' in en  # tables scroll in their box
        assert re.search(r'<img src="charts/[^"]+\.png"', th)
        assert (out / f"open-data/{m}.json").read_bytes() == (out / f"stats/{m}/report.json").read_bytes()
        assert (out / f"open-data/{m}.csv").read_bytes() == (out / f"stats/{m}/report.csv").read_bytes()
        assert (out / f"open-data/{m}.csv").read_bytes().startswith(b"\xef\xbb\xbf")
        assert f'href="../open-data/{m}.json"' in stats and f'href="../open-data/{m}.csv"' in stats
    figures = json.loads((out / "open-data/2026-01.json").read_text(encoding="utf-8"))
    assert figures["month"] == "2026-01"
    assert "ล่าสุด มกราคม 2569" in (out / "index.html").read_text(encoding="utf-8")
    register = (out / "register/index.html").read_text(encoding="utf-8")
    listed_permits = [p["number"] for p in json.loads((out / "register/permits.json").read_text())["permits"]]
    assert sorted(listed_permits) == sorted(month.permits_issued) and month.permits_revoked
    for number in month.permits_issued:
        assert number in register
    assert "เพิกถอน" in register and "revoked" in register and "ใช้ได้" in register
    verify = (out / "verify.html").read_text(encoding="utf-8")
    assert "VERIFY CERT-2569-0001" in verify and "ตรวจสอบใบอนุญาต CERT-2569-0001" in verify and "permit verify" in verify
    feedback = (out / "feedback.html").read_text(encoding="utf-8")
    assert 'href="mailto:saraban@banmai.go.th"' in feedback  # no complaints_email: the mailbox

    # Every link is relative and names a file that is there.
    pages = sorted(out.rglob("*.html"))
    for page in pages:
        for link in links_of(page):
            if link.startswith(("mailto:", "#")):
                continue
            assert "://" not in link and not link.startswith("/"), f"{page}: {link}"
            target = (page.parent / link.split("#")[0]).resolve()
            assert target.is_file(), f"{page.relative_to(out)} links to {link}, which is not a file"

    # Without a base URL no sitemap.xml (its addresses must be absolute); sitemap.html, linked
    # from every page's footer, lists every page.
    assert not (out / "sitemap.xml").exists()
    listed = [link for link in links_of(out / "sitemap.html") if not link.startswith(("mailto:", "#", "../"))]
    listed = [link.split("#")[0] for link in listed if link.split("#")[0] not in ("index.html", "site.css", "favicon.png")]
    assert {str(p.relative_to(out)) for p in pages} - {"index.html"} <= set(listed)
    for page in pages:
        assert "sitemap.html" in " ".join(links_of(page)), page

    # The build by hand is recorded: status says who built it, when and where.
    status = deploy.json("status", "--no-live")
    assert status["publish"]["latest"]["kind"] == "manual" and status["publish"]["manual"]["out"] == str(out)
    assert f"built by hand by {CLERK['MAILINTAKE_USER']} 2026-02-02 11:00 into {out}" in deploy.run("status", "--no-live").stdout

    # Nothing personal: no applicant's email, phone, ID number or name, in any file (PDFs read).
    texts = {p: text_of(p).lower() for p in out.rglob("*") if p.is_file() and p.suffix not in (".ttf", ".png", ".ico")}
    assert len(month.people) >= 6 and any(p.suffix == ".pdf" for p in texts)
    for person in month.people:
        needles = {person.email, person.email.split("@")[0], person.name, *person.name.split()}
        needles |= variants(person.phone) | variants(person.id_number)
        for p, t in texts.items():
            for needle in needles:
                assert needle.lower() not in t, f"{person.name}: {needle!r} in {p.relative_to(out)}"

    # The register as it stood at --now: on Thu 8 Jan at 20:00 the permit revoked on Fri 9 Jan
    # was valid, and those issued later are not there yet.
    early = out.parent / "as-of-8-january"
    deploy.run("publish", "--out", str(early), "--now", "2026-01-08T20:00:00+07:00")
    then = json.loads((early / "register/permits.json").read_text(encoding="utf-8"))["permits"]
    assert then and len(then) < len(month.permits_issued)
    assert all(p["issued_at"] <= "2026-01-08T20:00:00+07:00" and p["status"] == "valid" for p in then)
    assert set(month.permits_revoked) <= {p["number"] for p in then}
    assert "เพิกถอน" not in (early / "register/index.html").read_text(encoding="utf-8")


def test_sitemap_takes_the_base_url_and_the_complaints_address(tmp_path: Path) -> None:
    env = Env(tmp_path, None, None, agency_extra='complaints_email = "complaints@banmai.go.th"')
    env.config.write_text(
        env.config.read_text().replace("[publish]\n", '[publish]\nbase_url = "https://www.banmai.go.th/saraban/"\n'),
        encoding="utf-8",
    )
    out = tmp_path / "www"
    said = env.run("publish", "--out", str(out), "--now", "2026-01-05T11:00:00+07:00").stdout
    assert "sitemap.xml left out" not in said
    listed = re.findall(r"<loc>(.*?)</loc>", (out / "sitemap.xml").read_text(encoding="utf-8"))
    assert "https://www.banmai.go.th/saraban/index.html" in listed and "https://www.banmai.go.th/saraban/sitemap.html" in listed
    assert all(u.startswith("https://www.banmai.go.th/saraban/") for u in listed)
    assert (out / "sitemap.html").is_file()
    # Without the base URL: no sitemap.xml (the one the last build wrote goes), and one line says why.
    env.config.write_text(
        env.config.read_text().replace('base_url = "https://www.banmai.go.th/saraban/"\n', ""), encoding="utf-8"
    )
    said = env.run("publish", "--out", str(out), "--now", "2026-01-05T11:00:00+07:00").stdout
    assert said.count("sitemap.xml left out: no [publish] base_url") == 1
    assert not (out / "sitemap.xml").exists() and (out / "sitemap.html").is_file()
    feedback = (out / "feedback.html").read_text(encoding="utf-8")
    assert 'href="mailto:complaints@banmai.go.th"' in feedback
    assert "ยังไม่มีข้อมูลสถิติ" in (out / "stats/index.html").read_text(encoding="utf-8")  # no month yet
    # A base URL that is not a web address is refused in one line.
    bad = env.run("publish", "--out", str(out), "--base-url", "www.banmai.go.th", ok=False)
    assert bad.exit_code == 2 and "--base-url" in bad.output


def test_the_daemon_publishes_on_the_first_working_day_once(tmp_path: Path) -> None:
    env = Env(tmp_path, None, None)
    site = tmp_path / "public"
    env.config.write_text(
        env.config.read_text().replace("[publish]\nenabled = false\n", f'[publish]\nenabled = true\npath = "{site}"\n'),
        encoding="utf-8",
    )
    cfg = load(env.config)
    cal = WorkCalendar(cfg.hours)
    # 1 January 2027 is New Year's Day (a Friday), 2 and 3 January a weekend.
    assert cal.holiday(date(2027, 1, 1)) is not None and not cal.is_working_day(date(2027, 1, 2))
    assert first_working_day(cal, 2027, 1) == date(2027, 1, 4)

    clock = [datetime(2027, 1, 1, 12, 0, tzinfo=BKK)]
    daemon = Daemon(cfg, clock=lambda: clock[0])

    def events() -> list[dict[str, object]]:
        return [e for e in env.json("audit", "list") if e["action"] == "site_published"]

    for moment in (datetime(2027, 1, 1, 12), datetime(2027, 1, 2, 12), datetime(2027, 1, 3, 12), datetime(2027, 1, 4, 9, 0)):
        clock[0] = moment.replace(tzinfo=BKK)
        daemon.run_deadlines()  # what the daemon runs after every sweep and poll
        assert not site.exists(), f"published on {moment}"
    # A build by hand is recorded (status names it) but is not the monthly run.
    assert "Public site:  not built yet" in env.run("status", "--no-live").stdout
    env.run("publish", "--out", str(tmp_path / "by-hand"), "--now", "2027-01-02T09:00:00+07:00")
    assert f"Public site:  built by hand by {getpass.getuser()} 2027-01-02 09:00 into {tmp_path / 'by-hand'}" in (
        env.run("status", "--no-live").stdout
    )
    clock[0] = datetime(2027, 1, 4, 10, 5, tzinfo=BKK)  # the first working day, after ack_by
    daemon.run_deadlines()
    assert (site / "index.html").is_file() and (site / "stats/2026-12/index.html").is_file()
    assert (site / "open-data/2026-12.json").is_file()
    assert len(events()) == 1

    # Once: not again that day, nor the next, nor after a restart.
    (site / "index.html").unlink()
    for moment in (datetime(2027, 1, 4, 13, 30), datetime(2027, 1, 5, 8, 30), datetime(2027, 1, 29, 16, 0)):
        clock[0] = moment.replace(tzinfo=BKK)
        Daemon(cfg, clock=lambda: clock[0]).run_deadlines()
    assert not (site / "index.html").exists() and len(events()) == 1

    status = env.json("status", "--no-live")
    assert status["publish"]["enabled"] is True
    last = status["publish"]["last"]
    assert last["month"] == "2026-12" and last["ok"] is True and last["out"] == str(site)
    assert last["at"].startswith("2027-01-04T10:05")
    lines = env.run("status", "--no-live").stdout
    assert f"Public site:  2026-12 published 2027-01-04 10:05 into {site}" in lines and "pages) by the daemon" in lines
    assert status["publish"]["latest"]["kind"] == "daemon" and status["publish"]["manual"]["by"] == getpass.getuser()

    # February: Monday 1 February 2027 is its first working day.
    reg = Deployment.build(cfg)
    try:
        assert monthly_publish_due(cfg, reg.registry, datetime(2027, 1, 31, 12, tzinfo=BKK)) is None
        assert monthly_publish_due(cfg, reg.registry, datetime(2027, 2, 1, 10, 30, tzinfo=BKK)) == "2027-01"
    finally:
        reg.close()


def test_a_daemon_that_was_down_publishes_when_it_comes_back_and_off_means_off(tmp_path: Path) -> None:
    env = Env(tmp_path, None, None)
    site = tmp_path / "public"
    env.config.write_text(
        env.config.read_text().replace("[publish]\nenabled = false\n", f'[publish]\nenabled = true\npath = "{site}"\n'),
        encoding="utf-8",
    )
    cfg = load(env.config)
    reg = Deployment.build(cfg)
    try:
        assert monthly_publish_due(cfg, reg.registry, datetime(2027, 1, 6, 9, tzinfo=BKK)) == "2026-12"
    finally:
        reg.close()
    env.config.write_text(env.config.read_text().replace("enabled = true", "enabled = false"), encoding="utf-8")
    cfg = load(env.config)
    Daemon(cfg, clock=lambda: datetime(2027, 1, 4, 10, 30, tzinfo=BKK)).run_deadlines()
    assert not site.exists()
    assert "Public site:  off ([publish] enabled = false)" in env.run("status", "--no-live").stdout


def test_an_office_edits_a_page_and_its_template_is_sandboxed(tmp_path: Path) -> None:
    env = Env(tmp_path, None, None)
    own = tmp_path / "templates" / "site"
    own.mkdir(parents=True)
    (own / "feedback.html.j2").write_text(
        '{% extends "site/base.html.j2" %}{% block th %}<p>โทร {{ facts.phone }} <b>{{ "<i>" }}</b></p>{% endblock %}'
        "{% block en %}<p>Call us.</p>{% endblock %}",
        encoding="utf-8",
    )
    out = tmp_path / "www"
    env.run("publish", "--out", str(out), "--now", "2026-01-05T11:00:00+07:00")
    page = (out / "feedback.html").read_text(encoding="utf-8")
    assert "<p>โทร 0 4400 0000 <b>&lt;i&gt;</b></p>" in page  # the office's page, escaped
    assert "คู่มือสำหรับประชาชน" in (out / "index.html").read_text(encoding="utf-8")  # the rest shipped
    (own / "feedback.html.j2").write_text("{{ ''.__class__.__mro__[1].__subclasses__() }}", encoding="utf-8")
    bad = env.run("publish", "--out", str(out), ok=False)
    assert bad.exit_code == 2 and "templates/site/feedback.html.j2: SecurityError" in bad.output


def add_event(cfg: object, at: datetime, action: str = "verify_answered") -> None:
    """One event the statistics count (a permit check answered), as the desk writes it."""
    from mailintake.base.deployment import open_registry

    Deployment.build(cfg).close()  # type: ignore[arg-type]
    reg = open_registry(cfg)  # type: ignore[arg-type]
    try:
        with reg.transaction():
            reg.add_event(at=at, actor="system", action=action, detail={"number": "CERT-2568-0001"})
    finally:
        reg.close()


def test_a_quiet_month_stays_and_files_of_an_earlier_build_go(tmp_path: Path) -> None:
    env = Env(tmp_path, None, None)
    rules = tmp_path / "rules"
    shutil.copytree(Path(__file__).parent.parent / "rules", rules)
    add_event(load(env.config), datetime(2025, 12, 10, 10, tzinfo=BKK))  # December 2025, then nothing
    out = tmp_path / "www"
    env.run("publish", "--out", str(out), "--now", "2026-03-02T11:00:00+07:00")
    assert sorted(p.name for p in (out / "stats").iterdir() if p.is_dir()) == ["2025-12", "2026-01", "2026-02"]
    assert (out / "services/tm30.html").is_file()
    (out / "own.html").write_text("the office's own page", encoding="utf-8")
    (tmp_path / "outside.txt").write_text("not the site's", encoding="utf-8")
    manifest = json.loads((out / ".mailintake-site.json").read_text(encoding="utf-8"))
    assert "services/tm30.html" in manifest["files"] and "own.html" not in manifest["files"]
    # A manifest that names a file outside DIR (edited, or from elsewhere) never removes it.
    manifest["files"].append("../outside.txt")
    (out / ".mailintake-site.json").write_text(json.dumps(manifest), encoding="utf-8")

    # April: every month from the first with data, February (no activity) too; a service gone.
    (rules / "services/tm30.toml").unlink()
    env.run("publish", "--out", str(out), "--now", "2026-04-01T11:00:00+07:00")
    months = ["2025-12", "2026-01", "2026-02", "2026-03"]
    assert sorted(p.name for p in (out / "stats").iterdir() if p.is_dir()) == months
    stats = (out / "stats/index.html").read_text(encoding="utf-8")
    sitemap_page = (out / "sitemap.html").read_text(encoding="utf-8")
    for m in months:
        assert f'href="{m}/index.html"' in stats and f'href="stats/{m}/index.html' in sitemap_page, m
        assert (out / f"open-data/{m}.json").is_file()
    february = json.loads((out / "open-data/2026-02.json").read_text(encoding="utf-8"))
    assert february["month"] == "2026-02"
    assert not (out / "services/tm30.html").exists() and "tm30.html" not in sitemap_page  # the removed service's manual
    assert (out / "own.html").read_text(encoding="utf-8") == "the office's own page"  # not the site's: kept
    assert (tmp_path / "outside.txt").is_file()


def test_a_directory_that_cannot_be_written_is_one_line(tmp_path: Path) -> None:
    env = Env(tmp_path, None, None)
    add_event(load(env.config), datetime(2025, 12, 10, 10, tzinfo=BKK))
    bad = env.run("publish", "--out", "/proc/mailintake-site", "--now", "2026-01-05T11:00:00+07:00", ok=False)
    assert bad.exit_code == 1 and bad.output.count("\n") == 1 and "Traceback" not in bad.output
    assert "cannot write the site into /proc/mailintake-site" in bad.output
    out = tmp_path / "www"
    (out / "stats").mkdir(parents=True)
    (out / "stats/2025-12").write_text("in the way", encoding="utf-8")
    bad = env.run("publish", "--out", str(out), "--now", "2026-01-05T11:00:00+07:00", ok=False)
    assert bad.exit_code == 1 and bad.output.count("\n") == 1, bad.output
    assert bad.output.startswith("Error: cannot write the ") and f"{out}/stats/2025-12" in bad.output
    # The help's example works under the shipped unit, and says where a web root needs the unit's leave.
    helped = env.run("publish", "--help").output
    assert "Example: mailintake publish --out ./site" in helped and "ReadWritePaths=" in helped


def test_the_default_path_is_in_the_data_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    env = Env(tmp_path, None, None)
    text = env.config.read_text(encoding="utf-8").replace(str(env.storage), str(tmp_path / "data"))
    env.config.write_text(text.replace("[publish]\nenabled = false\n", ""), encoding="utf-8")  # no [publish] at all
    cfg = load(env.config)
    assert cfg.publish.enabled is True and cfg.publish.path == tmp_path / "data" / "site"
    # init --systemd: the site under /var/lib/mailintake, and the next steps say how to serve it.
    from click.testing import CliRunner

    from mailintake.cli import cli

    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("MAILINTAKE_CONFIG", raising=False)
    made = CliRunner().invoke(cli, ["init", "etc", "--systemd"])
    assert made.exit_code == 0, made.output
    assert load(tmp_path / "etc/config.toml", environ={}).publish.path == Path("/var/lib/mailintake/site")
    [line] = [ln for ln in made.output.splitlines() if "public site" in ln]
    assert "/var/lib/mailintake/site" in line and "ReadWritePaths=" in line and "[publish] path" in line


def test_the_office_s_own_files_in_a_web_root_are_never_overwritten(tmp_path: Path) -> None:
    env = Env(tmp_path, None, None)
    add_event(load(env.config), datetime(2025, 12, 10, 10, tzinfo=BKK))
    out = tmp_path / "www"
    out.mkdir()
    (out / "index.html").write_text("Office home", encoding="utf-8")
    (out / "favicon.ico").write_bytes(b"office icon")
    (out / "own.html").write_text("the office's own page", encoding="utf-8")
    bad = env.run("publish", "--out", str(out), "--now", "2026-01-05T11:00:00+07:00", ok=False)
    assert bad.exit_code == 1 and bad.output.count("\n") == 1 and "Traceback" not in bad.output, bad.output
    assert "favicon.ico, index.html" in bad.output and "subdirectory" in bad.output and "move or remove" in bad.output
    assert sorted(p.name for p in out.iterdir()) == ["favicon.ico", "index.html", "own.html"]  # nothing written
    assert (out / "index.html").read_text(encoding="utf-8") == "Office home"
    assert (out / "favicon.ico").read_bytes() == b"office icon"
    # An office file inside a month's statistics folder collides too.
    (out / "index.html").unlink()
    (out / "favicon.ico").unlink()
    (out / "stats/2025-12").mkdir(parents=True)
    (out / "stats/2025-12/report.json").write_text("{}", encoding="utf-8")
    bad = env.run("publish", "--out", str(out), "--now", "2026-01-05T11:00:00+07:00", ok=False)
    assert bad.exit_code == 1 and "stats/2025-12/report.json" in bad.output and not (out / "site.css").exists()
    # Moved away: the build goes, twice (its own files are in its manifest), the office's page stays.
    shutil.rmtree(out / "stats")
    for _ in range(2):
        env.run("publish", "--out", str(out), "--now", "2026-01-05T11:00:00+07:00")
    manifest = json.loads((out / ".mailintake-site.json").read_text(encoding="utf-8"))
    assert "index.html" in manifest["files"] and "own.html" not in manifest["files"]
    assert (out / "own.html").read_text(encoding="utf-8") == "the office's own page"
    # On a phone the service tables stack, each cell under its label, no Thai word split.
    css = (out / "site.css").read_text(encoding="utf-8")
    assert re.search(r"@media \(max-width: 600px\) \{[^@]*table\.stack tr[^@]*display: block", css)
    assert "td::before { content: attr(data-label)" in css and "word-break: normal; line-break: strict" in css
    for page in ("index.html", "services/index.html"):
        home = (out / page).read_text(encoding="utf-8")
        assert home.count('<table class="stack">') == 2 and '<td data-label="บริการ">' in home and '<td data-label="Fee"' in home
    # status names the latest month the build published.
    assert (
        "(" in env.run("status", "--no-live").stdout and "pages, statistics to 2025-12)" in env.run("status", "--no-live").stdout
    )
    assert env.json("status", "--no-live")["publish"]["manual"]["month"] == "2025-12"


def test_a_now_far_from_the_data_is_refused_in_one_line(tmp_path: Path) -> None:
    env = Env(tmp_path, None, None)
    add_event(load(env.config), datetime(2025, 12, 10, 10, tzinfo=BKK))
    out = tmp_path / "www"
    for now, said in (
        ("9999-12-31T23:00+07:00", "is 95688 months after the first data (2025-12)"),
        ("2036-01-05T11:00+07:00", "is 121 months after the first data (2025-12)"),
        ("0001-01-01T00:00+07:00", "out of the calendar's range"),
    ):
        bad = env.run("publish", "--out", str(out), "--now", now, ok=False)
        assert bad.exit_code == 1 and bad.output.count("\n") == 1 and "Traceback" not in bad.output, bad.output
        assert said in bad.output and "check --now" in bad.output, bad.output
        assert not out.exists()
    assert "no month of statistics" not in env.run("status", "--no-live").stdout  # nothing was built
