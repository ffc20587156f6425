"""User accounts as events: every registration, grant, revocation, password change, token and sign-in
is an explicit event with who did it (``Recorded``: actor, at, command_id), in the one store.

The aggregate keeps hashes only (argon2 for passwords, SHA-256 for random API tokens); hashing and
verifying are the service's (``services.identity``). Its id follows from the user name, so every
process finds the same account; its rules raise typed errors with stable codes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate, event

from domain.errors import DomainError, InvalidValue
from domain.events import Recorded
from domain.identity.roles import ALL_REGIONS, Role, Scope
from domain.text import clean

USERNAME_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{1,63}")
USERNAME_RULE = "2–64 位英文字母、数字、点、下划线或连字符，以字母或数字开头"
PASSWORD_MIN = 10
PASSWORD_MAX = 256


class IdentityError(DomainError):
    code = "IDENTITY_ERROR"


class UserExists(IdentityError):
    code = "USER_EXISTS"


class UserNotFound(IdentityError):
    code = "USER_NOT_FOUND"


class RoleNotHeld(IdentityError):
    code = "ROLE_NOT_HELD"


class RoleAlreadyHeld(IdentityError):
    code = "ROLE_ALREADY_HELD"


class PasswordRejected(IdentityError):
    code = "PASSWORD_REJECTED"


class SignInRefused(IdentityError):
    """Wrong user name or password: one message for both, so names cannot be probed."""

    code = "SIGNIN_REFUSED"


class AccountLocked(IdentityError):
    code = "ACCOUNT_LOCKED"


class TokenUnknown(IdentityError):
    code = "TOKEN_UNKNOWN"


def check_username(value: str) -> str:
    value = (value or "").strip()
    if not USERNAME_PATTERN.fullmatch(value):
        raise InvalidValue(f"用户名无效：应为{USERNAME_RULE}", field="username")
    return value


def check_password(password: str, username: str) -> None:
    if len(password) < PASSWORD_MIN:
        raise PasswordRejected(f"密码至少 {PASSWORD_MIN} 个字符", field="password")
    if len(password) > PASSWORD_MAX:
        raise PasswordRejected(f"密码最多 {PASSWORD_MAX} 个字符", field="password")
    if password.strip().lower() == username.lower():
        raise PasswordRejected("密码不能与用户名相同", field="password")


def check_scope(scope: Scope) -> Scope:
    regions = tuple(dict.fromkeys(clean(r, field="regions", label="地区", limit="name") for r in scope.regions))
    departments = tuple(
        dict.fromkeys(clean(d, field="departments", label="部门", limit="name") for d in scope.departments)
    )
    if ALL_REGIONS in regions:
        regions = (ALL_REGIONS,)
    return Scope(regions, departments)


def account_id(username: str) -> UUID:
    return uuid5(NAMESPACE_URL, f"/oneseal/users/{username.lower()}")


@dataclass(frozen=True)
class ApiToken:
    token_id: str
    name: str
    token_hash: str
    issued_at: datetime


class UserAccount(Aggregate):
    """One person's (or one system's) account: roles, scope, staff post, password and API tokens."""

    class Event(Recorded):
        username: str

    class Registered(Aggregate.Created, Event):
        LABEL = "创建用户"
        display_name: str
        password_hash: str
        roles: list[str]
        regions: list[str]
        departments: list[str]
        staff_id: str
        must_change_password: bool

    class PasswordChanged(Event):
        LABEL = "修改密码"
        password_hash: str
        must_change_password: bool

        def apply(self, user: UserAccount) -> None:
            user.password_hash = self.password_hash
            user.must_change_password = self.must_change_password
            user.epoch += 1
            user.failures, user.locked_until = 0, None

    class RoleGranted(Event):
        LABEL = "授予角色"
        role: str

        def apply(self, user: UserAccount) -> None:
            user.roles.append(self.role)

    class RoleRevoked(Event):
        LABEL = "撤销角色"
        role: str

        def apply(self, user: UserAccount) -> None:
            user.roles.remove(self.role)

    class ScopeChanged(Event):
        LABEL = "调整范围"
        regions: list[str]
        departments: list[str]

        def apply(self, user: UserAccount) -> None:
            user.regions, user.departments = list(self.regions), list(self.departments)

    class StaffLinked(Event):
        LABEL = "关联岗位"
        staff_id: str

        def apply(self, user: UserAccount) -> None:
            user.staff_id = self.staff_id

    class TokenIssued(Event):
        LABEL = "签发 API 令牌"
        token_id: str
        name: str
        token_hash: str

        def apply(self, user: UserAccount) -> None:
            user.tokens[self.token_id] = ApiToken(self.token_id, self.name, self.token_hash, self.at)

    class TokenRevoked(Event):
        LABEL = "吊销 API 令牌"
        token_id: str

        def apply(self, user: UserAccount) -> None:
            user.tokens.pop(self.token_id, None)

    class SignedIn(Event):
        LABEL = "登录"
        channel: str

        def apply(self, user: UserAccount) -> None:
            user.failures, user.locked_until = 0, None

    class SignInFailed(Event):
        LABEL = "登录失败"
        failures: int
        locked_until: datetime | None

        def apply(self, user: UserAccount) -> None:
            user.failures, user.locked_until = self.failures, self.locked_until

    @staticmethod
    def create_id(username: str) -> UUID:
        return account_id(username)

    @event(Registered)
    def __init__(
        self,
        username: str,
        display_name: str,
        password_hash: str,
        roles: list[str],
        regions: list[str],
        departments: list[str],
        staff_id: str,
        must_change_password: bool,
        actor: dict[str, str],
        at: datetime,
        command_id: str,
    ) -> None:
        self.username, self.display_name = username, display_name
        self.password_hash, self.must_change_password = password_hash, must_change_password
        self.roles, self.regions, self.departments = list(roles), list(regions), list(departments)
        self.staff_id = staff_id
        self.tokens: dict[str, ApiToken] = {}
        self.epoch = 0  # sessions carry it: a password change signs every other session out
        self.failures = 0
        self.locked_until: datetime | None = None
        self.created_at = at
        self.processed_commands: list[str] = [command_id]

    # ---- commands -----------------------------------------------------------------------------

    @classmethod
    def register(
        cls,
        username: str,
        *,
        display_name: str,
        password_hash: str,
        roles: list[Role],
        scope: Scope,
        staff_id: str,
        must_change_password: bool,
        actor: dict[str, str],
        at: datetime,
        command_id: str,
    ) -> UserAccount:
        username = check_username(username)
        scope = check_scope(scope)
        return cls(
            username=username,
            display_name=clean(display_name or username, field="display_name", label="姓名", limit="name"),
            password_hash=password_hash,
            roles=sorted({r.value for r in roles}),
            regions=list(scope.regions),
            departments=list(scope.departments),
            staff_id=staff_id.strip(),
            must_change_password=must_change_password,
            actor=actor,
            at=at.astimezone(UTC),
            command_id=command_id,
        )

    def has_processed(self, command_id: str) -> bool:
        return command_id in self.processed_commands

    def _record(self, cls: type[Any], actor: dict[str, str], at: datetime, command_id: str, **fields: Any) -> None:
        self.trigger_event(
            cls, username=self.username, actor=actor, at=at.astimezone(UTC), command_id=command_id, **fields
        )
        self.processed_commands.append(command_id)

    def change_password(
        self, password_hash: str, *, must_change: bool, actor: dict[str, str], at: datetime, command_id: str
    ) -> None:
        self._record(self.PasswordChanged, actor, at, command_id, password_hash=password_hash,
                     must_change_password=must_change)  # fmt: skip

    def grant(self, role: Role, *, actor: dict[str, str], at: datetime, command_id: str) -> None:
        if role.value in self.roles:
            raise RoleAlreadyHeld(f"用户「{self.username}」已有角色「{role.label}」", role=role.value)
        self._record(self.RoleGranted, actor, at, command_id, role=role.value)

    def revoke(self, role: Role, *, actor: dict[str, str], at: datetime, command_id: str) -> None:
        if role.value not in self.roles:
            raise RoleNotHeld(f"用户「{self.username}」没有角色「{role.label}」", role=role.value)
        self._record(self.RoleRevoked, actor, at, command_id, role=role.value)

    def set_scope(self, scope: Scope, *, actor: dict[str, str], at: datetime, command_id: str) -> None:
        scope = check_scope(scope)
        if (list(scope.regions), list(scope.departments)) == (self.regions, self.departments):
            return
        self._record(self.ScopeChanged, actor, at, command_id, regions=list(scope.regions),
                     departments=list(scope.departments))  # fmt: skip

    def link_staff(self, staff_id: str, *, actor: dict[str, str], at: datetime, command_id: str) -> None:
        if staff_id != self.staff_id:
            self._record(self.StaffLinked, actor, at, command_id, staff_id=staff_id)

    def issue_token(
        self, token_id: str, name: str, token_hash: str, *, actor: dict[str, str], at: datetime, command_id: str
    ) -> None:
        name = clean(name, field="name", label="令牌名称", limit="name")
        self._record(self.TokenIssued, actor, at, command_id, token_id=token_id, name=name, token_hash=token_hash)

    def revoke_token(self, token_id: str, *, actor: dict[str, str], at: datetime, command_id: str) -> None:
        if token_id not in self.tokens:
            raise TokenUnknown(f"用户「{self.username}」没有令牌「{token_id}」", token_id=token_id)
        self._record(self.TokenRevoked, actor, at, command_id, token_id=token_id)

    def signed_in(self, channel: str, *, at: datetime, command_id: str) -> None:
        self._record(self.SignedIn, self._self_actor(channel), at, command_id, channel=channel)

    def sign_in_failed(
        self, *, channel: str, max_failures: int, lockout: timedelta, at: datetime, command_id: str
    ) -> None:
        failures = self.failures + 1
        locked_until = at.astimezone(UTC) + lockout if max_failures and failures >= max_failures else None
        self._record(self.SignInFailed, self._self_actor(channel), at, command_id, failures=failures,
                     locked_until=locked_until)  # fmt: skip

    # ---- queries ------------------------------------------------------------------------------

    def locked(self, at: datetime) -> bool:
        return self.locked_until is not None and at < self.locked_until

    @property
    def scope(self) -> Scope:
        return Scope(tuple(self.regions), tuple(self.departments))

    @property
    def role_set(self) -> frozenset[Role]:
        return frozenset(Role(r) for r in self.roles)

    def _self_actor(self, channel: str) -> dict[str, str]:
        return {"user_id": self.username, "name": self.display_name, "department": "", "post": "", "region": "",
                "via": f"{channel}:{self.username}"}  # fmt: skip
