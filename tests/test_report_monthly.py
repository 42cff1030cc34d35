"""`mailintake report monthly` (issue 14, R28) through a replayed month
(tests/month.py) against Dovecot and the SMTP sink: every figure equals the
one recomputed here from what the month did (not from the code under test);
the CSV starts with a BOM and parses; each chart has data drawn (coloured
pixels: the frame, grid and text are black and grey, the data is coloured);
the PDF opens; the page is self-contained; a Buddhist-era month gives the same
files; an empty month's charts say "no data"; a bad month is a usage error.
Then what a new user met: a rules edit after the month changes none of its
figures; a month not begun is refused and one not over is partial, counting
only what happened by --now; a bad --out is one line and leaves nothing
half-written; the page carries its fonts; charts with nine long-named services
keep their colours apart and nothing cut; the PDF is compact; Thai and
full-width digits in --month."""

from __future__ import annotations

import csv
import io
import json
import math
import shutil
import statistics
from collections import Counter
from datetime import datetime
from pathlib import Path
from typing import Any

import matplotlib
import numpy
from conftest import Env
from month import EARLIER, MONTH, MONTH_BE, WORKING_DAYS, Month, replay_month, summary
from PIL import Image
from pypdf import PdfReader

from mailintake.base.config import load, shipped
from mailintake.base.deployment import open_registry
from mailintake.desk import months
from mailintake.desk.statistics import months_with_data
from mailintake.ops import charts
from mailintake.ops.monthly import write_monthly

NOW = "2026-02-02T09:00:00+07:00"
BOM = b"\xef\xbb\xbf"
FILES = ["report.csv", "report.json", "charts/per_day.png", "charts/trend.png", "charts/days_to_finish.png"]
FONTS = ["fonts/Sarabun-Regular.ttf", "fonts/Sarabun-Bold.ttf", "fonts/OFL-Sarabun.txt"]


def coloured_pixels(path: Path) -> int:
    """Pixels that are neither white, grey nor black: data, not frame or text."""
    pixels = numpy.asarray(Image.open(path).convert("RGB"), dtype=numpy.int16)
    return int(((pixels.max(axis=2) - pixels.min(axis=2)) > 60).sum())


def p90(values: list[int]) -> int:
    ordered = sorted(values)
    return ordered[math.ceil(0.9 * len(ordered)) - 1]


def expected(m: Month) -> dict[str, Any]:
    """The month's figures from what the builder did."""
    apps = m.applications
    decided = [a for a in apps if a.decided_on and a.decided_on.startswith(MONTH)]
    days = [a.working_days for a in decided if a.working_days is not None]
    within = sum(1 for a in decided if a.within_time)
    on_time = sum(1 for a in apps if a.ack_on_time)
    return {
        "working_days": len(WORKING_DAYS),
        "received": len(apps),
        "acks_on_time": on_time,
        "acks_on_time_percent": round(100 * on_time / len(apps), 1),
        "finished": len(decided),
        "finished_within_time": within,
        "finished_within_time_percent": round(100 * within / len(decided), 1),
        "days_to_finish_median": float(statistics.median(days)),
        "days_to_finish_p90": p90(days),
        "info_requests": m.info_requests,
        "delay_notices": m.delay_notices,
        "opdc_copies": m.opdc_copies,
        "fees_confirmed": len(m.fees),
        "fees_total_baht": sum(m.fees),
        "permits_issued": len(m.permits_issued),
        "permits_revoked": len(m.permits_revoked),
        "permits_verified": len(m.permits_verified),
        "satisfaction_answers": len(m.scores),
        "satisfaction_mean": round(sum(m.scores) / len(m.scores), 2),
        "inquiries_received": m.inquiries_received,
        "inquiries_answered": m.inquiries_answered,
    }


def report(env: Env, month: str, out: Path, now: str = NOW) -> dict[str, Any]:
    return json.loads(env.run("report", "monthly", "--month", month, "--out", str(out), "--now", now, "--json").stdout)


def test_the_monthly_report_equals_the_replayed_month(deploy: Env, tmp_path: Path) -> None:
    m = replay_month(deploy)
    out = tmp_path / "stats" / MONTH
    data = report(deploy, MONTH, out)

    # Every figure, against the month as it was lived (5 applications, 1 acknowledged late, 1 finished late).
    want = expected(m)
    assert data["figures"] == want
    assert (want["received"], want["acks_on_time"], want["finished_within_time"], want["days_to_finish_p90"]) == (5, 4, 4, 9)
    assert data["received"]["by_service"] == dict(sorted(Counter(a.service for a in m.applications).items()))
    per_day = Counter(a.deemed_on for a in m.applications)
    assert [(d["day"], d["total"]) for d in data["received"]["by_day"]] == [(d, per_day[d]) for d in WORKING_DAYS]
    by_service = data["finished"]["by_service"]
    for service in {a.service for a in m.applications}:
        mine = [a.working_days or 0 for a in m.applications if a.service == service]
        assert by_service[service]["finished"] == len(mine)
        assert by_service[service]["days_median"] == float(statistics.median(mine))
        assert by_service[service]["days_p90"] == p90(mine)
    assert data["satisfaction"]["scores"] == {"1": 0, "2": 0, "3": 0, "4": 1, "5": 1}

    # The trend: December's one application on time, January's shares, nothing before.
    trend = {t["month"]: t for t in data["trend"]}
    assert len(data["trend"]) == 12 and data["trend"][-1]["month"] == MONTH
    assert (trend[EARLIER]["acks_on_time_percent"], trend[EARLIER]["finished_within_time_percent"]) == (100.0, 100.0)
    assert trend[MONTH]["acks_on_time_percent"] == want["acks_on_time_percent"]
    assert trend[MONTH]["finished_within_time_percent"] == want["finished_within_time_percent"]
    assert all(t["applications"] == 0 and t["finished_within_time_percent"] is None for t in data["trend"][:-2])

    # The files.
    assert data["files"] == [*FILES, "index.html", "report.pdf", *FONTS]
    assert data["partial"] is False and data["up_to"] is None
    assert sorted(p.name for p in out.iterdir()) == ["charts", "fonts", "index.html", "report.csv", "report.json", "report.pdf"]
    assert all((out / f).is_file() for f in data["files"])
    raw = (out / "report.csv").read_bytes()
    assert raw.startswith(BOM)
    rows = {r["key"]: r for r in csv.DictReader(io.StringIO(raw.decode("utf-8-sig")))}
    for key, value in want.items():
        assert rows[key]["value"] == str(value), key
    assert rows["received"]["label_th"] == "คำขอที่ได้รับ" and rows["received"]["label_en"] == "Applications received"
    assert rows["month"]["value"] == MONTH and rows["received.event-permit"]["value"] == "1"
    assert "partial" not in rows and "up_to" not in rows  # a whole month
    assert json.loads((out / "report.json").read_text(encoding="utf-8"))["figures"] == want

    for chart in data["charts"]:
        assert chart["drawn"] is True
        assert coloured_pixels(out / chart["file"]) > 2000, chart["file"]
    pdf = PdfReader(io.BytesIO((out / "report.pdf").read_bytes()))
    # The figures on two pages (summary, by service, satisfaction, the working days five a row),
    # then the charts two a page.
    assert [len(p.images) for p in pdf.pages] == [0, 0, 2, 1]
    first = pdf.pages[0].extract_text() + pdf.pages[1].extract_text()
    for heading in ("/ Summary", "/ By service", "ความพึงพอใจ / Satisfaction", "/ Applications per working day"):
        assert first.count(heading) == 1, heading
    assert first.count("Applications received on") == 0  # not one row a day

    page = (out / "index.html").read_text(encoding="utf-8")
    body = page.split("<body>")[1]
    assert body.index("สถิติการให้บริการประจำเดือนมกราคม 2569") < body.index("Service statistics, January 2026")
    assert "Sarabun" in page and "<style>" in page
    # The fonts travel with the page: Thai renders on a machine without Thai fonts.
    assert 'src: url("fonts/Sarabun-Regular.ttf")' in page and 'src: url("fonts/Sarabun-Bold.ttf")' in page
    assert (out / "fonts" / "Sarabun-Regular.ttf").read_bytes() == (charts.FONTS / "Sarabun-Regular.ttf").read_bytes()
    assert "http://" not in page and "https://" not in page and "//" not in page
    for link in (*FILES[2:], "report.csv", "report.json", "report.pdf"):
        assert f'="{link}"' in page or f'="charts/{Path(link).name}"' in page

    # No personal data in anything written.
    people = summary(m)
    written = b"".join((out / f).read_bytes() for f in data["files"] if not f.endswith((".png", ".pdf")))
    for value in (*people["names"], *people["emails"], *people["phones"], *people["id_numbers"]):
        assert value.encode() not in written, value
    for a in [*m.applications, *m.earlier]:
        assert a.tid.encode() not in written

    # The same month by its Buddhist-era year gives the same files.
    again = report(deploy, MONTH_BE, tmp_path / "be")
    assert again["figures"] == want and again["month"] == MONTH
    assert (tmp_path / "be" / "report.csv").read_bytes() == raw
    assert (tmp_path / "be" / "index.html").read_text(encoding="utf-8") == page

    # What the public site calls: the months that have data, and the writer with its links.
    cfg = load(deploy.config)
    reg = open_registry(cfg)
    try:
        assert months_with_data(reg) == [EARLIER, MONTH]
        site = write_monthly(
            cfg, reg, MONTH, tmp_path / "site", now=datetime.fromisoformat(NOW), stylesheet="../site.css", home="../index.html"
        )
    finally:
        reg.close()
    assert site["figures"] == want and site["files"] == data["files"]
    html = (tmp_path / "site" / "index.html").read_text(encoding="utf-8")
    assert '<link rel="stylesheet" href="../site.css">' in html and '<a href="../index.html">' in html
    reg = open_registry(cfg)
    try:  # a site that keeps the fonts once names them instead of a copy a month
        shared = write_monthly(cfg, reg, MONTH, tmp_path / "shared", now=datetime.fromisoformat(NOW), fonts="../../fonts/")
    finally:
        reg.close()
    assert shared["files"] == [*FILES, "index.html", "report.pdf"] and not (tmp_path / "shared" / "fonts").exists()
    assert 'src: url("../../fonts/Sarabun-Regular.ttf")' in (tmp_path / "shared" / "index.html").read_text(encoding="utf-8")


def test_an_empty_month_says_no_data(tmp_path: Path) -> None:
    env = Env(tmp_path, None, None)
    before = dict(matplotlib.rcParams)
    data = report(env, "2026-03", tmp_path / "out", now="2026-04-01T09:00:00+07:00")
    assert dict(matplotlib.rcParams) == before  # the charts' style stays in its context
    assert data["figures"]["received"] == 0 and data["figures"]["finished"] == 0
    assert data["figures"]["acks_on_time_percent"] is None and data["figures"]["days_to_finish_median"] is None
    assert data["figures"]["working_days"] == 21  # 22 weekdays, less Makha Bucha (Tue 3 Mar 2026)
    for chart in data["charts"]:
        assert chart["drawn"] is False
        assert coloured_pixels(tmp_path / "out" / chart["file"]) == 0
        assert Image.open(tmp_path / "out" / chart["file"]).size == (880, 495)
    rows = list(csv.reader(io.StringIO((tmp_path / "out" / "report.csv").read_bytes().decode("utf-8-sig"))))
    assert rows[0] == ["key", "label_th", "label_en", "value"]
    assert dict((r[0], r[3]) for r in rows[1:])["days_to_finish_median"] == ""
    assert "ไม่มีข้อมูล" in (tmp_path / "out" / "index.html").read_text(encoding="utf-8")


def test_a_bad_month_is_a_usage_error(tmp_path: Path) -> None:
    env = Env(tmp_path, None, None)
    for bad in ("2026-13", "01-2026", "2569", "next", "๒๕๖๙-๑๓"):
        for command in (["monthly", "--out", str(tmp_path / "x")], ["acks"], ["satisfaction"]):
            r = env.run("report", command[0], "--month", bad, *command[1:], ok=False)
            assert r.exit_code == 2, (bad, command)
            error = f"Error: Invalid value for '--month': expected YYYY-MM (or a Buddhist-era year, e.g. 2569-01), got {bad!r}"
            assert r.output.strip().splitlines()[-1] == error
    assert not (tmp_path / "x").exists()


def test_thai_and_full_width_digits_name_the_same_month(tmp_path: Path) -> None:
    env = Env(tmp_path, None, None)
    for i, month in enumerate(("2026-01", "๒๕๖๙-๐๑", "２０２６-０１", "２๕๖๙-01", "๒๐๒๖－๐๑")):
        data = report(env, month, tmp_path / str(i))
        assert data["month"] == "2026-01" and data["month_names"]["be"] == "2569-01", month
    assert env.json("report", "acks", "--month", "๒๕๖๙-๐๑")["month"] == "2026-01"


def test_a_rules_edit_after_the_month_changes_none_of_its_figures(deploy: Env, tmp_path: Path) -> None:
    rules = tmp_path / "rules"
    shutil.copytree(shipped("rules") / "services", rules / "services")
    env = Env(tmp_path, deploy.mailbox, deploy.smtp, agency_extra=f'rules_dir = "{rules}"')
    m = replay_month(env)
    before = report(env, MONTH, tmp_path / "before")
    assert before["figures"] == expected(m)

    # After the month: certification gets 10 working days (A3's 9 would now be within), TM30 is withdrawn.
    cert = rules / "services" / "document-certification.toml"
    cert.write_text(cert.read_text(encoding="utf-8").replace("time_limit_days = 3", "time_limit_days = 10"), encoding="utf-8")
    (rules / "services" / "tm30.toml").unlink()
    after = report(env, MONTH, tmp_path / "after")
    assert after["figures"] == before["figures"]
    assert (after["figures"]["finished"], after["figures"]["finished_within_time"]) == (5, 4)
    assert after["finished"] == before["finished"] and after["trend"] == before["trend"]
    assert before["finished"]["by_service"]["document-certification"]["limit_days"] == [3]
    assert after["finished"]["by_service"]["tm30"]["limit_days"] == [1]  # as it applied, not a default
    assert after["services"]["tm30"]["name_en"] == "tm30"  # gone from the rules: named by its id
    values = [
        {
            r["key"]: r["value"]
            for r in csv.DictReader(io.StringIO((tmp_path / d / "report.csv").read_bytes().decode("utf-8-sig")))
        }
        for d in ("before", "after")
    ]
    assert values[0] == values[1]


def test_a_month_not_begun_is_refused_and_one_not_over_is_partial(deploy: Env, tmp_path: Path) -> None:
    m = replay_month(deploy)
    for month, now in (("2027-05", NOW), ("2026-02", "2026-01-31T23:59:00+07:00"), ("2568-12", "2025-11-30T10:00:00+07:00")):
        r = deploy.run("report", "monthly", "--month", month, "--out", str(tmp_path / "x"), "--now", now, ok=False)
        assert r.exit_code == 1 and r.output.count("\n") == 1, r.output
        named = f"{month} (2025-12)" if month.startswith("2568") else month  # as typed, and in C.E.
        assert r.output.startswith(f"Error: --month {named} has not begun"), r.output
    assert not (tmp_path / "x").exists()

    # Friday 9 Jan 14:10: what happened by then, and no more.
    out = tmp_path / "partial"
    now = "2026-01-09T14:10:00+07:00"
    r = deploy.run("report", "monthly", "--month", MONTH, "--out", str(out), "--now", now)
    assert r.stdout.splitlines()[0] == f"{MONTH} is not over: partial figures, up to {now}"
    data = json.loads((out / "report.json").read_text(encoding="utf-8"))
    assert data["partial"] is True and data["up_to"] == now
    upto = datetime.fromisoformat(now)
    early = [a for a in m.applications if a.deemed_on <= "2026-01-09"]
    done = [a for a in early if a.decided_on and a.decided_on <= "2026-01-09"]
    f = data["figures"]
    assert f["working_days"] == 5 and [d["day"] for d in data["received"]["by_day"]] == WORKING_DAYS[:5]
    assert (f["received"], f["acks_on_time"]) == (len(early), len(early)) == (4, 4)
    assert (f["finished"], f["finished_within_time"]) == (len(done), len(done)) == (3, 3)
    assert (f["info_requests"], f["delay_notices"], f["fees_confirmed"], f["fees_total_baht"]) == (1, 0, 1, 200)
    assert (f["permits_issued"], f["permits_revoked"], f["permits_verified"]) == (2, 0, 0)
    assert (f["satisfaction_answers"], f["inquiries_received"], f["inquiries_answered"]) == (1, 0, 0)
    assert upto < datetime.fromisoformat("2026-01-09T14:30:00+07:00")  # A4's permit came after
    rows = {r["key"]: r["value"] for r in csv.DictReader(io.StringIO((out / "report.csv").read_bytes().decode("utf-8-sig")))}
    assert (rows["partial"], rows["up_to"]) == ("true", now)
    page = (out / "index.html").read_text(encoding="utf-8")
    assert f"This month is not over: partial figures, up to {now}." in page and "เดือนนี้ยังไม่สิ้นสุด" in page
    text = "".join(p.extract_text() for p in PdfReader(io.BytesIO((out / "report.pdf").read_bytes())).pages)
    assert "partial figures, up to" in text

    # A month just over is whole: its last moment counted, nothing marked partial.
    whole = json.loads(
        deploy.run(
            "report", "monthly", "--month", MONTH, "--out", str(tmp_path / "w"), "--now", "2026-02-01T00:00:00+07:00", "--json"
        ).stdout
    )
    assert whole["partial"] is False and whole["figures"] == expected(m)


def test_a_bad_out_is_one_line_and_leaves_nothing_half_written(tmp_path: Path) -> None:
    env = Env(tmp_path, None, None)
    taken = tmp_path / "taken"
    (taken / "report.csv").mkdir(parents=True)
    for out, why in (
        ("/proc/nope", "No such file or directory"),
        ("/etc/passwd/sub", "Not a directory"),
        (str(taken), "a directory has that name"),
    ):
        r = env.run("report", "monthly", "--month", "2026-01", "--out", out, "--now", NOW, ok=False)
        assert r.exit_code == 1 and r.output.count("\n") == 1, r.output
        assert r.output.startswith("Error: cannot write ") and why in r.output and "nothing was written" in r.output
    assert [p.name for p in taken.iterdir()] == ["report.csv"]  # no index.html, no charts, no temporary file
    assert not any((taken / "report.csv").iterdir())


def test_charts_with_nine_long_named_services_keep_colours_apart_and_nothing_cut(tmp_path: Path, monkeypatch: Any) -> None:
    names = [
        ("ขออนุญาตก่อสร้าง ดัดแปลง หรือรื้อถอนอาคาร", "Permission to build, alter or demolish a building"),
        ("ขอรับรองสำเนาเอกสารทะเบียนราษฎร", "Certified copies of civil registration documents"),
        ("ขออนุญาตจัดงานประเพณีและงานรื่นเริงในที่สาธารณะ", "Permission for a festival in a public place"),
        ("แจ้งที่พักของคนต่างด้าวตามมาตรา 38", "Notice of a foreigner's residence (section 38)"),
        ("ขออนุญาตประกอบกิจการที่เป็นอันตรายต่อสุขภาพ", "Licence for a business hazardous to health"),
        ("ขอใบอนุญาตจำหน่ายสินค้าในที่หรือทางสาธารณะ", "Licence to sell goods in a public place"),
        ("ขออนุญาตตั้งสถานที่จำหน่ายอาหารหรือสะสมอาหาร", "Licence for a food shop or food storage"),
        ("ขออนุญาตติดตั้งป้ายโฆษณาชั่วคราว", "Permission for a temporary advertising sign"),
        ("ขอรับเบี้ยยังชีพผู้สูงอายุ", "Old-age allowance"),
    ]
    sids = [f"service-{i}" for i in range(len(names))]
    services = {
        sid: {"code": f"LONGCODE{i}", "name_th": th, "name_en": en, "time_limit_days": 5}
        for i, (sid, (th, en)) in enumerate(zip(sids, names, strict=True))
    }
    by_day = [{"day": d, "by_service": {s: 1 + (i + j) % 2 for j, s in enumerate(sids)}} for i, d in enumerate(WORKING_DAYS)]
    data: dict[str, Any] = {
        "month": MONTH,
        "month_names": {"th": "มกราคม 2569", "en": "January 2026", "be": MONTH_BE},
        "services": services,
        "received": {"total": 200, "by_service": dict.fromkeys(sids, 20), "by_day": by_day},
        "finished": {
            "by_service": {
                s: {"finished": 4, "days_median": 1.0 + i % 4, "days_p90": 3 + i % 5, "limit_days": [5]}
                for i, s in enumerate(sids)
            }
        },
        "trend": [
            {"month": f"2025-{m:02d}", "acks_on_time_percent": 90.0, "finished_within_time_percent": 75.0} for m in range(2, 13)
        ]
        + [{"month": MONTH, "acks_on_time_percent": 95.0, "finished_within_time_percent": 80.0}],
    }
    figures: list[tuple[Any, Any]] = []
    legend_below = charts._legend_below

    def keep(fig: Any, ncols: int = 3) -> Any:
        legend = legend_below(fig, ncols)
        figures.append((fig, legend))
        return legend

    monkeypatch.setattr(charts, "_legend_below", keep)
    drawn = charts.draw_all(data, tmp_path)
    assert [c["drawn"] for c in drawn] == [True, True, True] and len(figures) == 3

    styles = [charts.style_of(i) for i in range(len(sids))]
    assert len(set(styles)) == len(sids) and len({c for c, _h in styles}) == len(sids)
    assert len({charts.style_of(i) for i in range(40)}) == 40
    per_day = numpy.asarray(Image.open(tmp_path / "per_day.png").convert("RGB"), dtype=numpy.int16)
    for colour, _hatch in styles:  # every service's colour is drawn
        rgb = numpy.array([int(colour[k : k + 2], 16) for k in (1, 3, 5)])
        assert (numpy.abs(per_day - rgb).sum(axis=2) < 12).sum() > 200, colour

    for (fig, legend), chart in zip(figures, drawn, strict=True):
        fig.draw_without_rendering()
        box, frame = legend.get_window_extent(), fig.bbox
        assert frame.x0 <= box.x0 and box.x1 <= frame.x1 and frame.y0 <= box.y0 and box.y1 <= frame.y1, chart["file"]
        for text in fig.axes[0].get_yticklabels() + fig.axes[0].get_xticklabels():
            label = text.get_window_extent()
            assert frame.x0 <= label.x0 and label.x1 <= frame.x1, (chart["file"], text.get_text())
        pixels = numpy.asarray(Image.open(tmp_path / chart["file"]).convert("L"))
        assert (pixels[:, :2] > 250).all() and (pixels[:, -2:] > 250).all() and (pixels[-2:, :] > 250).all(), chart["file"]
        assert Image.open(tmp_path / chart["file"]).size == (chart["width"], chart["height"])

    # Days to finish: a service's two-line label stays clear of the next one's.
    fig, _legend = figures[2]
    labels = sorted((t.get_window_extent() for t in fig.axes[0].get_yticklabels()), key=lambda b: b.y0)
    assert len(labels) == len(sids)
    assert all(low.y1 <= high.y0 for low, high in zip(labels, labels[1:], strict=False))
    assert drawn[2]["height"] > 495 * 1.5


def test_months_before_1900_are_a_usage_error_and_the_trend_stays_in_year_one(tmp_path: Path) -> None:
    env = Env(tmp_path, None, None)
    now = "2026-01-05T12:00:00+07:00"
    for bad in ("0000-01", "0001-01", "1899-12", "2442-12"):
        r = env.run("report", "monthly", "--month", bad, "--out", str(tmp_path / "x"), "--now", now, ok=False)
        assert r.exit_code == 2 and r.output.strip().splitlines()[-1].startswith("Error: Invalid value for '--month'"), r.output
        assert f"{bad!r}" in r.output and "1900" in r.output and "Traceback" not in r.output, r.output
    assert not (tmp_path / "x").exists()
    assert report(env, "2443-01", tmp_path / "floor", now=now)["month"] == "1900-01"
    r = env.run(
        "report", "monthly", "--month", "2026-01", "--out", str(tmp_path / "y"), "--now", "0001-01-01T00:00+07:00", ok=False
    )
    assert r.exit_code == 1 and r.output.count("\n") == 1 and r.output.startswith("Error: --month 2026-01 has not begun"), (
        r.output
    )
    assert months.months_back("0001-03", 12) == ["0001-01", "0001-02", "0001-03"]
    assert months.months_back("1900-02", 3) == ["1899-12", "1900-01", "1900-02"]


def test_a_buddhist_era_year_is_converted_once(tmp_path: Path) -> None:
    env = Env(tmp_path, None, None)
    now = "2026-01-05T12:00:00+07:00"
    for typed, meant in (
        ("9999-12", "9456-12"),
        ("3000-01", "2457-01"),
        ("2570-01", "2027-01"),
        ("2400-01", "2400-01"),
        ("2026-02", "2026-02"),
    ):
        r = env.run("report", "monthly", "--month", typed, "--out", str(tmp_path / "x"), "--now", now, ok=False)
        assert r.exit_code == 1 and r.output.count("\n") == 1, r.output
        named = typed if typed == meant else f"{typed} ({meant})"
        assert r.output.startswith(f"Error: --month {named} has not begun (it is 2026-01-05)"), r.output
    assert not (tmp_path / "x").exists()
    assert report(env, "2499-01", tmp_path / "a", now=now)["month"] == "1956-01"
    for typed, meant in (("2499-01", "1956-01"), ("2569-01", "2026-01"), ("2026-01", "2026-01"), ("1956-01", "1956-01")):
        assert report(env, typed, tmp_path / typed, now=now)["month"] == meant, typed
    # A month already in the common era is not converted again on the way down.
    cfg = load(env.config)
    reg = open_registry(cfg)
    try:
        later = datetime.fromisoformat("2500-01-01T00:00+07:00")
        assert write_monthly(cfg, reg, "2457-01", tmp_path / "c", now=later)["month"] == "2457-01"
    finally:
        reg.close()


def test_an_empty_out_is_a_usage_error(tmp_path: Path, monkeypatch: Any) -> None:
    env = Env(tmp_path, None, None)
    here = tmp_path / "here"
    here.mkdir()
    monkeypatch.chdir(here)
    for out in ("", "  "):
        r = env.run("report", "monthly", "--month", "2026-01", "--out", out, "--now", NOW, ok=False)
        assert r.exit_code == 2 and r.output.strip().splitlines()[-1].startswith("Error: Invalid value for '--out'"), r.output
    assert list(here.iterdir()) == []


def test_a_partial_month_says_working_days_so_far(tmp_path: Path) -> None:
    env = Env(tmp_path, None, None)
    now = "2025-12-12T12:00:00+07:00"
    data = report(env, "2025-12", tmp_path / "p", now=now)
    assert data["partial"] is True and data["figures"]["working_days"] == 8
    rows = {r["key"]: r for r in csv.DictReader(io.StringIO((tmp_path / "p" / "report.csv").read_bytes().decode("utf-8-sig")))}
    label_th, label_en = rows["working_days"]["label_th"], rows["working_days"]["label_en"]
    assert "so far" in label_en and "in the month" not in label_en and "จนถึงขณะนี้" in label_th, (label_th, label_en)
    page = (tmp_path / "p" / "index.html").read_text(encoding="utf-8")
    assert label_en in page and label_th in page and "Working days in the month" not in page
    text = "".join(p.extract_text() for p in PdfReader(io.BytesIO((tmp_path / "p" / "report.pdf").read_bytes())).pages)
    assert "so far" in text and "Working days in the month" not in text
    whole = report(env, "2025-11", tmp_path / "w", now=now)
    rows = {r["key"]: r for r in csv.DictReader(io.StringIO((tmp_path / "w" / "report.csv").read_bytes().decode("utf-8-sig")))}
    assert whole["partial"] is False and rows["working_days"]["label_en"] == "Working days in the month"


def test_a_service_finished_in_no_working_days_is_drawn(tmp_path: Path) -> None:
    def data_with(median: float, p90: int) -> dict[str, Any]:
        return {
            "month": MONTH,
            "month_names": {"th": "มกราคม 2569", "en": "January 2026", "be": MONTH_BE},
            "services": {"s": {"code": "S", "name_th": "บริการ", "name_en": "Service", "time_limit_days": 1}},
            "finished": {"by_service": {"s": {"finished": 1, "days_median": median, "days_p90": p90, "limit_days": [1]}}},
        }

    zero, one = tmp_path / "zero.png", tmp_path / "one.png"
    assert charts.days_to_finish(data_with(0.0, 0), zero) is True
    assert charts.days_to_finish(data_with(1.0, 1), one) is True

    def plotted(path: Path) -> int:  # coloured pixels above the legend (which is below the plot)
        pixels = numpy.asarray(Image.open(path).convert("RGB"), dtype=numpy.int16)[: int(0.7 * 495)]
        return int(((pixels.max(axis=2) - pixels.min(axis=2)) > 60).sum())

    assert plotted(one) > 1000, plotted(one)
    assert plotted(zero) > 150, plotted(zero)  # a visible marker for each of the two zero bars
    blank = data_with(0.0, 0)
    blank["finished"]["by_service"] = {}
    assert charts.days_to_finish(blank, tmp_path / "none.png") is False
