"""`oneseal matters list` and `oneseal staff list`: what clerks pick codes and ids from."""

from __future__ import annotations

from typing import Annotated

import typer

from domain.staff import Post
from entrypoints.cli.common import boot, code_column, command, local, out, print_json, safe, table

matters_app = typer.Typer(help="政务服务事项目录", no_args_is_help=True)
staff_app = typer.Typer(help="工作人员名册", no_args_is_help=True)
Region = Annotated[str | None, typer.Option("--region", help="地区，如 汶川县、阿坝州")]
JsonFlag = Annotated[bool, typer.Option("--json", help="输出 JSON")]


@matters_app.command("list")
@command
def matters_list(region: Region = None, as_json: JsonFlag = False) -> None:
    """列出事项：编码、名称、办理机关、时限、所需材料。"""
    b = boot()
    matters = b.directory.matters(region)
    if as_json:
        print_json(
            [
                {
                    "code": m.code,
                    "name": m.name,
                    "kind": m.kind.value,
                    "department": m.authority.department,
                    "level": m.authority.level.value,
                    "region": m.authority.region,
                    "statutory_days": m.statutory_days,
                    "promised_days": m.promised_days,
                    "day_type": m.day_type.value,
                    "materials": list(m.materials),
                }
                for m in matters
            ]
        )
        return
    t = table(f"事项目录 {b.store.catalogue.version}（{len(matters)} 项）", code_column("编码", [m.code for m in matters]),
              "名称", "办理机关", ("时限", {"no_wrap": True}), "材料")  # fmt: skip
    for m in matters:
        t.add_row(
            m.code, safe(m.name), safe(m.authority.department),
            f"{m.promised_days}/{m.statutory_days}{m.day_type.label}", safe("、".join(m.materials)),
        )  # fmt: skip
    out.print(t)
    out.print("[dim]时限：承诺/法定[/]")


@matters_app.command("routing")
@command
def matters_routing(code: Annotated[str, typer.Argument(help="事项编码")], as_json: JsonFlag = False) -> None:
    """事项审批权限的调整记录（划转、回退、移出清单）与现在的实施机关。"""
    b = boot()
    b.require_data()
    matter = b.directory.matter(code)
    changes = b.routing.history(code)
    if as_json:
        print_json(
            {
                "code": matter.code,
                "name": matter.name,
                "department": matter.authority.department,
                "changes": [
                    {
                        "department": c.authority.department,
                        "effective_from": c.effective_from.isoformat(),
                        "cause": c.cause.value,
                        "approved_by": c.approved_by,
                        "legal_basis": c.legal_basis,
                        "reason": c.reason,
                        "source": c.source,
                    }
                    for c in changes
                ],
            }
        )
        return
    t = table(f"{safe(matter.name)}（{matter.code}）：现由{safe(matter.authority.department)}实施",
              ("生效时间", {"no_wrap": True}), "实施机关", "类别", "批准机关", "依据", "原因", "来源")  # fmt: skip
    for c in changes:
        t.add_row(local(c.effective_from), safe(c.authority.department), c.cause.label, safe(c.approved_by),
                  safe(c.legal_basis), safe(c.reason), safe(c.source))  # fmt: skip
    out.print(t)
    if not changes:
        out.print("[dim]无调整记录：按事项目录确定实施机关[/]")


@staff_app.command("list")
@command
def staff_list(region: Region = None, as_json: JsonFlag = False) -> None:
    """列出工作人员及其岗位（--as 使用此处的编号）。"""
    actors = boot().directory.staff(region)
    if as_json:
        print_json([a.to_dict() for a in actors])
        return
    t = table(
        f"工作人员（{len(actors)} 人）",
        code_column("编号", [a.user_id for a in actors]),
        "姓名",
        "部门",
        "岗位",
        "地区",
    )
    for a in actors:
        t.add_row(a.user_id, safe(a.name), safe(a.department), Post(a.post).label, safe(a.region))
    out.print(t)
