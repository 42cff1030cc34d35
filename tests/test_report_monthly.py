"""`mailintake report monthly` (issue 14, R28) through a replayed month
(tests/month.py) against Dovecot and the SMTP sink: every figure equals the
one recomputed here from what the month did (not from the code under test);
the CSV starts with a BOM and parses; each chart has data drawn (coloured
pixels: the frame, grid and text are black and grey, the data is coloured);
the PDF opens; the page is self-contained; a Buddhist-era month gives the same
files; an empty month's charts say "no data"; a bad month is one line."""

from __future__ import annotations

import csv
import io
import json
import math
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

from mailintake.base.config import load
from mailintake.base.deployment import open_registry
from mailintake.desk.statistics import months_with_data
from mailintake.ops.monthly import write_monthly

NOW = "2026-02-02T09:00:00+07:00"
BOM = b"\xef\xbb\xbf"
FILES = ["report.csv", "report.json", "charts/per_day.png", "charts/trend.png", "charts/days_to_finish.png"]


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


def report(env: Env, month: str, out: Path) -> dict[str, Any]:
    return json.loads(env.run("report", "monthly", "--month", month, "--out", str(out), "--now", NOW, "--json").stdout)


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
    assert data["files"] == [*FILES, "index.html", "report.pdf"]
    assert all((out / f).is_file() for f in data["files"])
    raw = (out / "report.csv").read_bytes()
    assert raw.startswith(BOM)
    rows = {r["key"]: r for r in csv.DictReader(io.StringIO(raw.decode("utf-8-sig")))}
    for key, value in want.items():
        assert rows[key]["value"] == str(value), key
    assert rows["received"]["label_th"] == "คำขอที่ได้รับ" and rows["received"]["label_en"] == "Applications received"
    assert rows["month"]["value"] == MONTH and rows["received.event-permit"]["value"] == "1"
    assert json.loads((out / "report.json").read_text(encoding="utf-8"))["figures"] == want

    for chart in data["charts"]:
        assert chart["drawn"] is True
        assert coloured_pixels(out / chart["file"]) > 2000, chart["file"]
    pdf = PdfReader(io.BytesIO((out / "report.pdf").read_bytes()))
    assert len(pdf.pages) >= 4  # the figures, then a chart a page
    assert sum(len(p.images) for p in pdf.pages) == 3

    page = (out / "index.html").read_text(encoding="utf-8")
    body = page.split("<body>")[1]
    assert body.index("สถิติการให้บริการประจำเดือนมกราคม 2569") < body.index("Service statistics, January 2026")
    assert "Sarabun" in page and "<style>" in page
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


def test_an_empty_month_says_no_data(tmp_path: Path) -> None:
    env = Env(tmp_path, None, None)
    before = dict(matplotlib.rcParams)
    data = report(env, "2026-03", tmp_path / "out")
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


def test_a_bad_month_is_one_line(tmp_path: Path) -> None:
    env = Env(tmp_path, None, None)
    for bad in ("2026-13", "01-2026", "2569", "next"):
        r = env.run("report", "monthly", "--month", bad, "--out", str(tmp_path / "x"), ok=False)
        assert r.exit_code == 1
        assert r.output.strip() == f"Error: --month: expected YYYY-MM (or a Buddhist-era year, e.g. 2569-01), got {bad!r}"
    assert not (tmp_path / "x").exists()
