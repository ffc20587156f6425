"""`oneseal matters list` and `oneseal staff list`: what clerks pick codes and ids from."""

from __future__ import annotations

from typing import Annotated

import typer

from domain.staff import Post
from entrypoints.cli.common import boot, code_column, command, out, print_json, safe, table

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
