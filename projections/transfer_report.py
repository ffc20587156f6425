"""The transfer programme's status and its trial-run report (试运行情况报告): data and renderings.

``status`` is what ``oneseal transfer status`` shows (schema ``oneseal.transfer-status/1``);
``report`` the trial-run report (schema ``oneseal.transfer-report/1``, docs/data-formats.md), rendered
as Markdown, HTML, JSON or an Excel workbook in Chinese. Definitions of every figure: docs/transfer.md.
"""

from __future__ import annotations

import html
import io
import json
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine

from domain.calendar import ServiceCalendar, to_local
from domain.transfer import Decision, ItemStatus, Party
from projections.transfer_queries import (
    before_after,
    behind_schedule,
    item_list,
    item_rows,
    list_changes,
    outstanding_by_party,
    programme_json,
    programme_row,
    progress,
    short_department,
    supervision_rows,
    supervision_summary,
    trial_day,
    trial_totals,
    week_rows,
)

STATUS_SCHEMA = "oneseal.transfer-status/1"
REPORT_SCHEMA = "oneseal.transfer-report/1"
FORMATS = ("md", "html", "json", "xlsx")


def status(engine: Engine, code: str, as_of: datetime, *, source: dict[str, Any] | None = None) -> dict[str, Any]:
    """Where the programme stands: progress by batch, department and status, outcomes, handover and 审管联动."""
    p = programme_row(engine, code)
    items = item_rows(engine, code)
    return {
        "schema": STATUS_SCHEMA,
        "as_of": as_of.astimezone(UTC).isoformat(timespec="seconds"),
        "source": source or {},
        "programme": programme_json(p),
        "trial_day": trial_day(as_of, p),
        "progress": progress(items, p["batches"]),
        "checklist": {k: v for k, v in outstanding_by_party(items).items() if k != "items"},
        "behind_schedule": len(behind_schedule(items, as_of)),
        "supervision": supervision_summary(supervision_rows(engine, code), as_of)["total"],
    }


def report(
    engine: Engine,
    code: str,
    calendar: ServiceCalendar,
    as_of: datetime,
    *,
    include_demo: bool = False,
    source: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The trial-run report as data (the stable JSON schema ``oneseal.transfer-report/1``)."""
    p = programme_row(engine, code)
    items = item_rows(engine, code)
    decisions = [
        {"code": i["code"], "name": i["name"], "department": i["origin"], "status": i["status"],
         "decision": i["decision"], "reason": i["decision_reason"] or "",
         "decided_at": i["decided_at"].replace(tzinfo=UTC) if i["decided_at"] else None, "trial_end": i["trial_end"]}
        for i in items if i["decision"] is not None
    ]  # fmt: skip
    return {
        "schema": REPORT_SCHEMA,
        "title": f"{p['name']}试运行情况报告",
        "generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "as_of": as_of.astimezone(UTC).isoformat(timespec="seconds"),
        "include_demo": include_demo,
        "source": source or {},
        "programme": programme_json(p),
        "progress": progress(items, p["batches"]),
        "checklist": outstanding_by_party(items),
        "behind_schedule": behind_schedule(items, as_of),
        "trial_figures": trial_totals(week_rows(engine, code), items),
        "before_after": before_after(engine, items, calendar, as_of, include_demo=include_demo),
        "decisions": decisions,
        "list_changes": list_changes(engine, code),
        "supervision": supervision_summary(supervision_rows(engine, code), as_of),
        "items": item_list(items),
        "definitions": DEFINITIONS,
    }


DEFINITIONS = [
    "事项状态占比 = 该状态事项数 ÷ 方案内全部事项数（含已移出清单的事项），四舍五入保留一位小数。",
    "已切换 = 清单内（未移出）已记录切换时刻的事项（含其后回退原部门的事项）；切换进度 = 已切换 ÷ 清单内事项数。",
    "交接未签认 = 交接中事项的交接清单条目尚缺的签认次数，按签认方（原部门、审批局）分别统计。",
    "进度滞后：未切换的事项已过所在批次的计划切换时间；或试运行中（含延长）的事项已过试运行最后一日仍未作出结论。",
    "试运行数据为每周快照（周一至周日，北京时间）之和；按时办结率 = Σ按时办结件数 ÷ Σ办结件数，"
    "平均办理工作日按各周办结件数加权。",
    "划转前后对比：划转后（AFTER）为审批局自切换时刻起至统计时刻、试运行最后一日结束、回退或移出之最早者；"
    "划转前（BEFORE）为切换前等长的期间，在原部门办理。受理件数按受理时刻、办结件数按办结时刻计入期间。",
    "平均办理工作日 = 期间内办结办件自受理次日至办结当日的工作日数（扣除中止计时天数）之和 ÷ 办结件数；"
    "按时办结率 = 期间内在承诺时限内办结件数 ÷ 办结件数；月均办件量 = 期间受理件数 ÷ （期间天数 ÷ 30.4375），"
    "部门和合计为各事项月均办件量之和。",
    "审管联动：审批局对划转事项作出的每项决定向原部门推送一条监管任务，须在决定后2个工作日内认领；"
    "逾期 = 已标记逾期，或至统计时刻仍未认领且已过认领期限。",
]


# ---- rendering -------------------------------------------------------------------------------


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{value:.1f}%"


def _num(value: Any) -> str:
    return "—" if value is None else str(value)


def _day(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return f"{to_local(value if value.tzinfo else value.replace(tzinfo=UTC)):%Y-%m-%d}"


def _status_label(status: str) -> str:
    return ItemStatus(status).label if status in set(ItemStatus) else status


def _dept(data: dict[str, Any], department: str) -> str:
    return short_department(department, data["programme"]["region"])


def render_markdown(data: dict[str, Any]) -> str:
    p, g = data["programme"], data["progress"]
    o = g["outcomes"]
    lines = [f"# {data['title']}", ""]
    lines += [
        "## 一、基本情况",
        "",
        f"依据{p['approved_by']}《{p['name']}》（{p['decision_no']}），{p['region']}将{g['items']}项行政许可事项"
        f"（涉及{len(g['by_department'])}个部门）分{len([b for b in g['by_batch'] if b['batch'] is not None])}批"
        f"划转{p['bureau']}实施，试运行期为{p['trial_start']}至{p['trial_end']}。方案当前状态：{p['status_label']}。",
        "",
        "| 里程碑 | 完成情况 | 文号 | 时间 |",
        "|---|---|---|---|",
    ]
    for m in p["milestones"]:
        lines.append(f"| {m['label']} | {'已完成' if m['done'] else '未完成'} | {m.get('document_no') or '—'} | "
                     f"{_day(m.get('at'))} |")  # fmt: skip
    lines += [
        "",
        "## 二、划转进度",
        "",
        f"清单内事项{g['listed']}项，已切换至审批局{g['cut_over']}项（{_pct(g['cut_over_share'])}）。"
        f"其中转入正式运行{o['live']}项、延长试运行{o['trial_extended']}项、回退原部门{o['rolled_back']}项，"
        f"另有{o['removed']}项已移出清单。",
        "",
        "| 状态 | 事项数 | 占比 |",
        "|---|---|---|",
    ]
    lines += [f"| {s['label']} | {s['count']} | {_pct(s['share'])} |" for s in g["by_status"] if s["count"]]
    lines += [
        "",
        "| 批次 | 计划切换 | 事项数 | 已切换 | 切换进度 | 正式运行 | 延长 | 回退 | 移出 |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for b in g["by_batch"]:
        st = b["by_status"]
        lines.append(
            f"| {b['name']} | {_day(b['cut_over_planned'])} | {b['items']} | {b['cut_over']} | {_pct(b['cut_over_share'])} | "
            f"{st.get('live', 0)} | {st.get('trial_extended', 0)} | {st.get('rolled_back', 0)} | {st.get('removed', 0)} |"
        )
    lines += [
        "",
        "| 原实施部门 | 事项数 | 已切换 | 切换进度 | 正式运行 | 延长 | 回退 | 移出 |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for d in g["by_department"]:
        st = d["by_status"]
        lines.append(
            f"| {_dept(data, d['department'])} | {d['items']} | {d['cut_over']} | {_pct(d['cut_over_share'])} | "
            f"{st.get('live', 0)} | {st.get('trial_extended', 0)} | {st.get('rolled_back', 0)} | {st.get('removed', 0)} |"
        )
    c = data["checklist"]
    lines += [
        "",
        "## 三、交接清单签认情况",
        "",
        f"交接中事项{c['items_in_handover']}项，尚缺签认：原部门{c['by_party'][Party.ORIGIN.value]}处、"
        f"审批局{c['by_party'][Party.BUREAU.value]}处。",
    ]
    if c["items"]:
        lines += ["", "| 事项 | 原实施部门 | 待原部门签认 | 待审批局签认 |", "|---|---|---|---|"]
        lines += [f"| {i['name']}（{i['code']}） | {_dept(data, i['department'])} | {i['origin_open']} | {i['bureau_open']} |"
                  for i in c["items"]]  # fmt: skip
    behind = data["behind_schedule"]
    lines += ["", "## 四、进度滞后事项", "", f"共{len(behind)}项。" if behind else "无。"]
    if behind:
        lines += ["", "| 事项 | 原实施部门 | 状态 | 情况 | 滞后天数 |", "|---|---|---|---|---|"]
        lines += [f"| {b['name']}（{b['code']}） | {_dept(data, b['department'])} | {_status_label(b['status'])} | "
                  f"{b['reason']} | {b['days']} |" for b in behind]  # fmt: skip
    t = data["trial_figures"]
    tt = t["total"]
    lines += [
        "",
        "## 五、试运行数据",
        "",
        f"试运行期间，审批局受理划转事项办件{tt['accepted']}件、办结{tt['completed']}件，按时办结率{_pct(tt['on_time_rate'])}，"
        f"逾期{tt['overdue']}件，平均办理{_num(tt['avg_working_days'])}个工作日（{tt['weeks']}个事项周快照）。",
        "",
        "| 原实施部门 | 受理 | 办结 | 按时办结率 | 逾期 | 平均工作日 |",
        "|---|---|---|---|---|---|",
    ]
    lines += [f"| {_dept(data, d['department'])} | {d['accepted']} | {d['completed']} | {_pct(d['on_time_rate'])} | "
              f"{d['overdue']} | {_num(d['avg_working_days'])} |" for d in t["by_department"]]  # fmt: skip
    if t["by_item"]:
        lines += ["", "| 事项 | 周数 | 受理 | 办结 | 按时办结率 | 逾期 | 平均工作日 |", "|---|---|---|---|---|---|---|"]
        lines += [f"| {i['name']}（{i['code']}） | {i['weeks']} | {i['accepted']} | {i['completed']} | "
                  f"{_pct(i['on_time_rate'])} | {i['overdue']} | {_num(i['avg_working_days'])} |"
                  for i in t["by_item"]]  # fmt: skip
    ba = data["before_after"]
    b, a = ba["total"]["before"], ba["total"]["after"]
    lines += [
        "",
        "## 六、划转前后对比",
        "",
        f"已切换的{ba['total']['items']}项事项：划转前在原部门平均办理{_num(b['avg_working_days'])}个工作日、"
        f"按时办结率{_pct(b['on_time_rate'])}、月均{_num(b['cases_per_month'])}件；划转后在审批局平均办理"
        f"{_num(a['avg_working_days'])}个工作日、按时办结率{_pct(a['on_time_rate'])}、月均{_num(a['cases_per_month'])}件。",
        "",
        "| 原实施部门 | 事项 | 划转前平均工作日 | 划转后平均工作日 | 划转前按时率 | 划转后按时率 | 划转前月均件 | 划转后月均件 |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for d in ba["by_department"]:
        b, a = d["before"], d["after"]
        lines.append(
            f"| {_dept(data, d['department'])} | {d['items']} | {_num(b['avg_working_days'])} | {_num(a['avg_working_days'])} | "
            f"{_pct(b['on_time_rate'])} | {_pct(a['on_time_rate'])} | {_num(b['cases_per_month'])} | {_num(a['cases_per_month'])} |"
        )
    if data["decisions"]:
        lines += ["", "## 七、试运行结论", "", "| 事项 | 原实施部门 | 结论 | 理由 | 日期 |", "|---|---|---|---|---|"]
        lines += [f"| {d['name']}（{d['code']}） | {_dept(data, d['department'])} | {Decision(d['decision']).label} | "
                  f"{d['reason'] or '—'} | {_day(d['decided_at'])} |" for d in data["decisions"]]  # fmt: skip
    else:
        lines += ["", "## 七、试运行结论", "", "尚未作出结论。"]
    changes = data["list_changes"]
    lines += [
        "",
        "## 八、事项清单动态调整",
        "",
        f"方案确定后调整{len(changes)}次。" if changes else "方案确定后未调整。",
    ]
    if changes:
        lines += [
            "",
            "| 日期 | 调整 | 事项 | 原实施部门 | 批准机关 | 文号 | 原因 | 经办人 |",
            "|---|---|---|---|---|---|---|---|",
        ]
        kinds = {"added": "新增", "removed": "移出", "planned": "方案列入"}
        lines += [f"| {_day(ch['at'])} | {kinds.get(ch['kind'], ch['kind'])} | {ch['name']}（{ch['code']}） | "
                  f"{_dept(data, ch['department'])} | {ch['approved_by']} | {ch['document_no'] or '—'} | {ch['reason']} | "
                  f"{ch['actor_name']} |" for ch in changes]  # fmt: skip
    s = data["supervision"]
    st = s["total"]
    lines += [
        "",
        "## 九、审管联动",
        "",
        f"审批局作出决定后推送原部门监管任务{st['issued']}条，已认领{st['claimed']}条（其中逾期认领{st['claimed_late']}条），"
        f"未认领{st['open']}条（其中已逾期{st['overdue']}条）。",
    ]
    if s["by_department"]:
        lines += ["", "| 监管部门 | 推送 | 已认领 | 逾期认领 | 未认领 | 逾期未认领 |", "|---|---|---|---|---|---|"]
        lines += [f"| {_dept(data, d['department'])} | {d['issued']} | {d['claimed']} | {d['claimed_late']} | {d['open']} | "
                  f"{d['overdue']} |" for d in s["by_department"]]  # fmt: skip
    lines += ["", "注："] + [f"{i}. {n}" for i, n in enumerate(data["definitions"], start=1)]
    lines += ["", "## 附表：划转事项清单", "", "| 事项编码 | 事项名称 | 原实施部门 | 批次 | 状态 | 切换时间 | 试运行截止 |",
              "|---|---|---|---|---|---|---|"]  # fmt: skip
    lines += [f"| {i['code']} | {i['name']} | {_dept(data, i['department'])} | {_num(i['batch'])} | "
              f"{_status_label(i['status'])} | {_day(i['cut_over_at'])} | {i['trial_end'] or '—'} |"
              for i in data.get("items", [])]  # fmt: skip
    src = data.get("source") or {}
    if src:
        demo = "（含演示办件）" if data.get("include_demo") else ""
        lines += ["", f"数据来源：读模型已处理至第 {src.get('position')} 号事件（事件库最新 {src.get('head')}），"
                      f"统计时刻 {data['as_of']}{demo}。"]  # fmt: skip
    return "\n".join(lines) + "\n"


def render_html(data: dict[str, Any]) -> str:
    body: list[str] = []
    table: list[list[str]] = []

    def flush() -> None:
        if table:
            head, *rows = table
            body.append(
                "<table><thead><tr>" + "".join(f"<th>{h}</th>" for h in head) + "</tr></thead><tbody>"
                + "".join("<tr>" + "".join(f"<td>{x}</td>" for x in r) + "</tr>" for r in rows) + "</tbody></table>"
            )  # fmt: skip
            table.clear()

    for line in render_markdown(data).splitlines():
        if line.startswith("|"):
            if not line.startswith("|---"):
                table.append([html.escape(x.strip()) for x in line.strip("|").split(" | ")])
            continue
        flush()
        if line.startswith("# "):
            body.append(f"<h1>{html.escape(line[2:])}</h1>")
        elif line.startswith("## "):
            body.append(f"<h2>{html.escape(line[3:])}</h2>")
        elif line.strip():
            body.append(f"<p>{html.escape(line)}</p>")
    flush()
    return (
        "<!doctype html><html lang='zh-CN'><head><meta charset='utf-8'>"
        f"<title>{html.escape(data['title'])}</title><style>body{{font-family:sans-serif;max-width:70em;margin:2em auto}}"
        "table{border-collapse:collapse;margin:.5em 0}td,th{border:1px solid #999;padding:.2em .5em}</style>"
        "</head><body>" + "".join(body) + "</body></html>\n"
    )


def render_xlsx(data: dict[str, Any]) -> bytes:
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    ws.title = "报告"
    for line in render_markdown(data).splitlines():
        if line and not line.startswith("|"):
            ws.append([line.lstrip("# ")])
    sheets: list[tuple[str, list[str], list[list[Any]]]] = [
        ("进度", ["原实施部门", "事项数", "已切换", "切换进度%", "正式运行", "延长试运行", "回退", "移出"],
         [[d["department"], d["items"], d["cut_over"], d["cut_over_share"], d["by_status"].get("live", 0),
           d["by_status"].get("trial_extended", 0), d["by_status"].get("rolled_back", 0),
           d["by_status"].get("removed", 0)] for d in data["progress"]["by_department"]]),
        ("事项", ["事项编码", "事项名称", "原实施部门", "批次", "状态", "计划切换", "切换时间", "试运行截止", "结论",
                "待原部门签认", "待审批局签认"],
         [[i["code"], i["name"], i["department"], i["batch"], _status_label(i["status"]), _day(i["planned_cut_over"]),
           _day(i["cut_over_at"]), i["trial_end"], Decision(i["decision"]).label if i["decision"] else "",
           i["origin_open"], i["bureau_open"]] for i in data.get("items", [])]),
        ("试运行数据", ["事项编码", "事项名称", "原实施部门", "周数", "受理", "办结", "按时办结率%", "逾期", "平均工作日"],
         [[i["code"], i["name"], i["department"], i["weeks"], i["accepted"], i["completed"], i["on_time_rate"],
           i["overdue"], i["avg_working_days"]] for i in data["trial_figures"]["by_item"]]),
        ("划转前后对比", ["事项编码", "事项名称", "原实施部门", "划转前受理", "划转前办结", "划转前平均工作日", "划转前按时率%",
                    "划转前月均件", "划转后受理", "划转后办结", "划转后平均工作日", "划转后按时率%", "划转后月均件"],
         [[i["code"], i["name"], i["department"],
           *(i[k][f] for k in ("before", "after")
             for f in ("accepted", "completed", "avg_working_days", "on_time_rate", "cases_per_month"))]
          for i in data["before_after"]["by_item"]]),
        ("清单调整", ["时间", "调整", "事项编码", "事项名称", "原实施部门", "批准机关", "文号", "原因", "经办人"],
         [[_day(c["at"]), c["kind"], c["code"], c["name"], c["department"], c["approved_by"], c["document_no"],
           c["reason"], c["actor_name"]] for c in data["list_changes"]]),
        ("审管联动", ["监管部门", "推送", "已认领", "逾期认领", "未认领", "逾期未认领"],
         [[d["department"], d["issued"], d["claimed"], d["claimed_late"], d["open"], d["overdue"]]
          for d in data["supervision"]["by_department"]]),
    ]  # fmt: skip
    for title, head, rows in sheets:
        sheet = wb.create_sheet(title)
        sheet.append(head)
        for r in rows:
            sheet.append(r)
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat()
    raise TypeError(f"not JSON: {type(value)}")


def to_json(data: dict[str, Any]) -> str:
    return json.dumps(data, ensure_ascii=False, indent=2, default=_json_default) + "\n"


def render(data: dict[str, Any], fmt: str) -> str | bytes:
    if fmt == "json":
        return to_json(data)
    if fmt == "xlsx":
        return render_xlsx(data)
    return {"md": render_markdown, "html": render_html}[fmt](data)
