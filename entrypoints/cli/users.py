"""`oneseal user …`: accounts for the web pages and the HTTP API, run on the server itself.

Each change is an event on the account, recorded as done by the server's command line (with the
operating-system user's name). Passwords are read from a prompt or stdin, never from arguments.
"""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from domain.identity import Role, Scope
from entrypoints.cli.common import boot, code_column, command, err, out, print_json, safe, table
from services.identity import DEMO_PASSWORD, cli_actor

user_app = typer.Typer(help="用户与权限：网页和 API 的账号、角色、范围、令牌", no_args_is_help=True)
Username = Annotated[str, typer.Argument(help="用户名（英文字母、数字、点、下划线或连字符）")]
Regions = Annotated[list[str] | None, typer.Option("--region", help="工作范围内的地区，可重复；* 为全部地区")]
Departments = Annotated[list[str] | None, typer.Option("--department", help="工作范围内的部门，可重复；默认不限")]
StaffId = Annotated[str | None, typer.Option("--staff", help="关联的岗位人员编号（见 oneseal staff list）")]
PasswordStdin = Annotated[bool, typer.Option("--password-stdin", help="从标准输入读取密码（一行）")]


def _password(from_stdin: bool, *, generate_ok: bool) -> str | None:
    if from_stdin:
        return sys.stdin.readline().rstrip("\n")
    if generate_ok and not sys.stdin.isatty():
        return None  # scripted without a password: one is generated and printed once
    if not sys.stdin.isatty():
        raise typer.BadParameter("非交互方式请用 --password-stdin 提供密码")
    first = typer.prompt("密码（至少 10 个字符）", hide_input=True)
    if typer.prompt("再次输入", hide_input=True) != first:
        raise typer.BadParameter("两次输入的密码不一致")
    return str(first)


def _scope(regions: list[str] | None, departments: list[str] | None) -> Scope | None:
    if not regions and not departments:
        return None
    return Scope(tuple(regions or ()), tuple(departments or ()))


@user_app.command("add")
@command
def add(
    username: Annotated[str | None, typer.Argument(help="用户名；与 --demo 同用时省略")] = None,
    name: Annotated[str, typer.Option("--name", help="姓名（显示用）")] = "",
    role: Annotated[list[str] | None, typer.Option("--role", help="角色，可重复：" + "、".join(Role))] = None,
    region: Regions = None,
    department: Departments = None,
    staff: StaffId = None,
    password_stdin: PasswordStdin = False,
    demo: Annotated[
        bool, typer.Option("--demo", help=f"为名册中每个岗位人员建一个演示账号（密码 {DEMO_PASSWORD}）")
    ] = False,
) -> None:
    """新建用户（不给密码时随机生成并只显示这一次）；--demo 建立全部演示账号。"""
    b = boot()
    if demo:
        with err.status("建立演示账号 …"):
            added, existing = b.identity.add_demo_users(by=cli_actor(), region=region[0] if region else None)
        out.print(
            f"[green]✓ 演示账号：新增 {added} 个，已存在 {existing} 个[/]（用户名 = 人员编号，密码 {DEMO_PASSWORD}）"
        )
        return
    if not username:
        raise typer.BadParameter("缺少用户名")
    roles = [Role.parse(r) for r in role or []]
    view, generated = b.identity.add(
        username, display_name=name, password=_password(password_stdin, generate_ok=True), roles=roles,
        scope=_scope(region, department), staff_id=staff or "", by=cli_actor(),
    )  # fmt: skip
    out.print(f"[green]✓ 已新建用户[/] {safe(view.username)}（{safe(view.display_name)}）")
    if generated:
        out.print(f"  初始密码（只显示这一次）：{generated}")


@user_app.command("passwd")
@command
def passwd(username: Username, password_stdin: PasswordStdin = False) -> None:
    """设置用户的密码（该用户已登录的会话全部失效）。"""
    password = _password(password_stdin, generate_ok=False)
    assert password is not None
    boot().identity.set_password(username, password, by=cli_actor())
    out.print(f"[green]✓ 已设置 {safe(username)} 的密码[/]")


@user_app.command("grant")
@command
def grant(
    username: Username,
    role: Annotated[str, typer.Argument(help="角色：" + "、".join(f"{r.value}（{r.label}）" for r in Role))],
    region: Regions = None,
    department: Departments = None,
    staff: StaffId = None,
) -> None:
    """授予角色；可同时调整工作范围（--region/--department）和关联岗位（--staff）。"""
    view = boot().identity.grant(username, Role.parse(role), by=cli_actor(), scope=_scope(region, department),
                                 staff_id=staff)  # fmt: skip
    out.print(f"[green]✓ {safe(username)} 的角色：{'、'.join(Role(r).label for r in view.roles)}[/]")


@user_app.command("revoke")
@command
def revoke(username: Username, role: Annotated[str, typer.Argument(help="角色")]) -> None:
    """撤销角色（立即生效）。"""
    view = boot().identity.revoke(username, Role.parse(role), by=cli_actor())
    out.print(f"[green]✓ 已撤销；{safe(username)} 的角色：{'、'.join(Role(r).label for r in view.roles) or '无'}[/]")


@user_app.command("list")
@command
def list_users(as_json: Annotated[bool, typer.Option("--json", help="输出 JSON")] = False) -> None:
    """列出用户：角色、范围、关联岗位、令牌。"""
    users = boot().identity.users()
    if as_json:
        print_json([u.to_dict() for u in users])
        return
    t = table(f"用户（{len(users)} 个）", code_column("用户名", [u.username for u in users]), "姓名", "角色", "范围",
              "岗位", "令牌")  # fmt: skip
    for u in users:
        scope = Scope(tuple(u.regions), tuple(u.departments)).describe()
        t.add_row(safe(u.username), safe(u.display_name), "、".join(Role(r).label for r in u.roles) or "—",
                  safe(scope), safe(u.staff_id or "—"), str(len(u.tokens)))  # fmt: skip
    out.print(t)


@user_app.command("token")
@command
def token(
    username: Username,
    name: Annotated[str, typer.Option("--name", help="令牌用途，如 对接省平台")] = "api",
    revoke_id: Annotated[str | None, typer.Option("--revoke", help="吊销此编号的令牌")] = None,
) -> None:
    """签发 API 令牌（只显示这一次，库中只存其哈希）；--revoke 吊销。"""
    b = boot()
    if revoke_id:
        b.identity.revoke_token(username, revoke_id, by=cli_actor())
        out.print(f"[green]✓ 已吊销令牌 {safe(revoke_id)}[/]")
        return
    token_id, secret = b.identity.issue_token(username, name, by=cli_actor())
    err.print(f"[green]✓ 已签发令牌 {token_id}[/]（只显示这一次；请求头 Authorization: Bearer <令牌>）")
    sys.stdout.write(secret + "\n")
