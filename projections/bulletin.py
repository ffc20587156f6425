"""The monthly bulletin's section 全州政务服务工作完成情况, computed from the read models.

Definitions (docs/bulletin.md): accepted = cases accepted (受理) in the month; completed = cases
completed (办结: the decision handed over) in the month; the completion rate is the bulletin's own
*period* rate, completed in the month ÷ accepted in the month. Also offered: the cohort rate (of the
cases accepted in the month, the share completed by now) and the on-time rate (completed in the
month within the promised time limit ÷ completed in the month). Months are cut in Beijing time.
"""

from __future__ import annotations

import csv
import html
import io
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from sqlalchemy import Engine, func, select

from projections.tables import service_stats

SCHEMA = "oneseal.bulletin/1"
PREFECTURE = "阿坝州"
COUNTY_ORDER = ["马尔康市", "汶川县", "理县", "茂县", "松潘县", "九寨沟县", "金川县", "小金县", "黑水县", "壤塘县",
                "阿坝县", "若尔盖县", "红原县"]  # fmt: skip


def percent(numerator: int, denominator: int) -> float | None:
    """One decimal, half-up, as the bulletin prints it (99.25 → 99.3)."""
    if denominator == 0:
        return None
    value = (Decimal(numerator) * 100 / Decimal(denominator)).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)
    return float(value)


def rate(numerator: int, denominator: int) -> dict[str, Any]:
    return {"percent": percent(numerator, denominator), "numerator": numerator, "denominator": denominator}


@dataclass
class Figures:
    accepted: int = 0
    completed: int = 0
    on_time: int = 0
    cohort_accepted: int = 0
    cohort_completed: int = 0

    def add(self, other: Figures) -> None:
        for k in ("accepted", "completed", "on_time", "cohort_accepted", "cohort_completed"):
            setattr(self, k, getattr(self, k) + getattr(other, k))

    def to_json(self) -> dict[str, Any]:
        return {
            "accepted": self.accepted,
            "completed": self.completed,
            "completion_rate": rate(self.completed, self.accepted),
            "cohort_completion_rate": rate(self.cohort_completed, self.cohort_accepted),
            "on_time_rate": rate(self.on_time, self.completed),
        }


def bulletin(
    engine: Engine,
    month: str,
    region: str | None = None,
    *,
    include_demo: bool = False,
    source: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The bulletin as data (the stable JSON schema ``oneseal.bulletin/1``).

    Cases of demonstration drives are left out unless ``include_demo``. ``source`` states what the
    figures were computed from (read-model position against the store's head, at which moment)."""
    by_dept: dict[tuple[str, str, str], Figures] = {}
    s = service_stats.c
    stats = (
        select(s.level, s.region, s.department, func.sum(s.accepted), func.sum(s.completed),
               func.sum(s.completed_on_time), func.sum(s.cohort_completed))
        .where(s.month == month)
        .group_by(s.level, s.region, s.department)
    )  # fmt: skip
    if region:
        stats = stats.where(s.region == region)
    if not include_demo:
        stats = stats.where(s.demo.is_(False))
    with engine.connect() as conn:
        for level, reg, dept, accepted, completed, on_time, cohort_done in conn.execute(stats):
            by_dept[(level, reg, dept)] = Figures(
                int(accepted), int(completed), int(on_time), int(accepted), int(cohort_done)
            )
    total, prefecture, counties = Figures(), Figures(), Figures()
    per_region: dict[str, Figures] = {}
    for (level, reg, _), f in by_dept.items():
        total.add(f)
        (prefecture if level == "prefecture" else counties).add(f)
        if level == "county":
            per_region.setdefault(reg, Figures()).add(f)
    order = {r: i for i, r in enumerate(COUNTY_ORDER)}
    return {
        "schema": SCHEMA,
        "month": month,
        "region": region,
        "generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "include_demo": include_demo,
        "source": source or {},
        "prefecture_wide": total.to_json(),
        "prefecture_level": prefecture.to_json(),
        "counties": counties.to_json(),
        "by_county": [
            {"region": r, **f.to_json()} for r, f in sorted(per_region.items(), key=lambda kv: order.get(kv[0], 99))
        ],
        "by_department": [
            {"level": lv, "region": r, "department": d, **f.to_json()}
            for (lv, r, d), f in sorted(
                by_dept.items(), key=lambda kv: (kv[0][0] != "prefecture", order.get(kv[0][1], -1), kv[0][2])
            )
        ],
        "notes": NOTES,
    }


NOTES = [
    "办结率 = 本月办结件数 ÷ 本月受理件数（与月度通报口径一致，本月办结件中可含上月受理的办件），四舍五入保留一位小数。",
    "受理批次办结率 = 本月受理的办件中截至统计时已办结的件数 ÷ 本月受理件数。",
    "按时办结率 = 本月在承诺时限内办结的件数 ÷ 本月办结件数（中止计时的天数不计入时限）。",
    "月份按北京时间划分；不予受理、撤回的申请不计入受理和办结件数。",
]


def _pct(r: dict[str, Any]) -> str:
    return "—" if r["percent"] is None else f"{r['percent']:.1f}%"


def _month_label(month: str) -> str:
    return f"{int(month[5:7])}月"


def render_markdown(data: dict[str, Any]) -> str:
    m, w, p, c = _month_label(data["month"]), data["prefecture_wide"], data["prefecture_level"], data["counties"]
    lines = ["●全州政务服务工作完成情况" if not data["region"] else f"●{data['region']}政务服务工作完成情况", ""]
    if not data["region"]:
        lines.append(
            f"{m}，全州共受理各类行政审批和公共服务事项{w['accepted']}件、办结{w['completed']}件，"
            f"办结率为{_pct(w['completion_rate'])}。其中，州级政务服务平台受理各类事项{p['accepted']}件，"
            f"办结{p['completed']}件，办结率为{_pct(p['completion_rate'])}。各县（市）政务服务平台受理各类事项"
            f"{c['accepted']}件，办结{c['completed']}件，办结率为{_pct(c['completion_rate'])}。"
        )
    else:
        lines.append(
            f"{m}，{data['region']}政务服务平台受理各类事项{w['accepted']}件，办结{w['completed']}件，"
            f"办结率为{_pct(w['completion_rate'])}。"
        )
    if data["by_county"] and not data["region"]:
        lines += ["", "各县（市）："]
        for r in data["by_county"]:
            lines.append(
                f"- {r['region']}政务服务平台受理各类事项{r['accepted']}件，办结{r['completed']}件，"
                f"办结率为{_pct(r['completion_rate'])}。"
            )
    lines += [
        "",
        "| 层级 | 地区 | 部门 | 受理 | 办结 | 办结率 | 受理批次办结率 | 按时办结率 |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for d in data["by_department"]:
        lines.append(
            f"| {'州级' if d['level'] == 'prefecture' else '县（市）'} | {d['region']} | {d['department']} | "
            f"{d['accepted']} | {d['completed']} | {_pct(d['completion_rate'])} | "
            f"{_pct(d['cohort_completion_rate'])} | {_pct(d['on_time_rate'])} |"
        )
    lines += ["", "注："] + [f"{i}. {n}" for i, n in enumerate(data["notes"], start=1)]
    if data.get("source"):
        lines += ["", source_line(data)]
    return "\n".join(lines) + "\n"


def source_line(data: dict[str, Any]) -> str:
    """What the figures were computed from, so a reader can tell they are the month's, not stale."""
    src = data["source"]
    demo = "（含演示办件）" if data.get("include_demo") else ""
    return f"数据来源：读模型已处理至第 {src['position']} 号事件（事件库最新 {src['head']}），统计时间 {src['as_of']}{demo}。"


def render_html(data: dict[str, Any]) -> str:
    md = render_markdown(data).splitlines()
    body: list[str] = []
    table: list[list[str]] = []
    for line in md:
        if line.startswith("|"):
            if not line.startswith("|---"):
                table.append([html.escape(x.strip()) for x in line.strip("|").split("|")])
            continue
        if table:
            head, *rows = table
            body.append(
                "<table><thead><tr>"
                + "".join(f"<th>{h}</th>" for h in head)
                + "</tr></thead><tbody>"
                + "".join("<tr>" + "".join(f"<td>{x}</td>" for x in r) + "</tr>" for r in rows)
                + "</tbody></table>"
            )
            table = []
        if line.startswith("●"):
            body.append(f"<h2>{html.escape(line)}</h2>")
        elif line.startswith("- "):
            body.append(f"<p class='county'>{html.escape(line[2:])}</p>")
        elif line.strip():
            body.append(f"<p>{html.escape(line)}</p>")
    return (
        "<!doctype html><html lang='zh-CN'><head><meta charset='utf-8'>"
        f"<title>政务服务工作通报 {data['month']}</title><style>body{{font-family:sans-serif;max-width:60em;"
        "margin:2em auto}table{border-collapse:collapse}td,th{border:1px solid #999;padding:.2em .5em}"
        "td:nth-child(n+4){text-align:right}</style></head><body>" + "".join(body) + "</body></html>\n"
    )


DEPT_COLUMNS = ["level", "region", "department", "accepted", "completed", "completion_rate",
                "cohort_completion_rate", "on_time_rate"]  # fmt: skip


def _dept_rows(data: dict[str, Any]) -> list[list[Any]]:
    rows = []
    for scope, f in (
        ("全州", data["prefecture_wide"]),
        ("州级", data["prefecture_level"]),
        ("县（市）", data["counties"]),
    ):
        rows.append(
            [
                "合计",
                scope,
                "",
                f["accepted"],
                f["completed"],
                f["completion_rate"]["percent"],
                f["cohort_completion_rate"]["percent"],
                f["on_time_rate"]["percent"],
            ]
        )
    for d in data["by_department"]:
        rows.append(
            [
                d["level"],
                d["region"],
                d["department"],
                d["accepted"],
                d["completed"],
                d["completion_rate"]["percent"],
                d["cohort_completion_rate"]["percent"],
                d["on_time_rate"]["percent"],
            ]
        )
    return rows


def render_csv(data: dict[str, Any]) -> str:
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\n")
    w.writerow(DEPT_COLUMNS)
    w.writerows(_dept_rows(data))
    return out.getvalue()


def render_xlsx(data: dict[str, Any]) -> bytes:
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    ws.title = "通报"
    for line in render_markdown(data).splitlines():
        if line and not line.startswith("|"):
            ws.append([line])
    sheet = wb.create_sheet("按部门")
    sheet.append(["层级", "地区", "部门", "受理", "办结", "办结率%", "受理批次办结率%", "按时办结率%"])
    for row in _dept_rows(data):
        sheet.append(row)
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def render(data: dict[str, Any], fmt: str) -> str | bytes:
    if fmt == "json":
        return json.dumps(data, ensure_ascii=False, indent=2) + "\n"
    if fmt == "xlsx":
        return render_xlsx(data)
    renderers = {"md": render_markdown, "html": render_html, "csv": render_csv}
    return renderers[fmt](data)
