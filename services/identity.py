"""Users: accounts as events, passwords (argon2), sign-in with lock-out, API tokens, the first admin.

Every change to an account is an event on its ``UserAccount`` aggregate in the one store, recorded
with who did it (a signed-in admin, or the server's command line). Reads load the account (a handful
of events), so a revoked role or a changed password takes effect on the very next request.
"""

from __future__ import annotations

import getpass
import hashlib
import hmac
import os
import secrets
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING
from uuid import UUID

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from eventsourcing.application import AggregateNotFoundError
from eventsourcing.utils import get_topic

from domain.calendar import SHANGHAI
from domain.errors import DomainError, InvalidValue
from domain.handlers import Outcome, execute
from domain.identity import (
    ALL_REGIONS,
    POST_ROLES,
    AccountLocked,
    PasswordRejected,
    Principal,
    Role,
    RoleAlreadyHeld,
    Scope,
    SignInRefused,
    UserAccount,
    UserExists,
    UserNotFound,
    account_id,
    check_password,
    check_username,
)
from domain.staff import VIA_CLI, Actor, Post

if TYPE_CHECKING:
    from services.bootstrap import Bootstrap

ADMIN_USER = "admin"
ADMIN_PASSWORD_FILE = "admin-password.txt"
WEB_SECRET_FILE = "web-secret"
DEMO_PASSWORD = "oneseal-demo"  # the demo users' password, given in the README: demo data only
DEMO_STAFF = "demo-staff"  # `oneseal scenario load demo-staff`: one demo user per staff post
TOKEN_PREFIX = "os1"


class NotAuthenticated(DomainError):
    code = "AUTH_REQUIRED"


class Forbidden(DomainError):
    code = "FORBIDDEN"


@dataclass(frozen=True)
class UserView:
    """An account as admins list it (never a hash)."""

    username: str
    display_name: str
    roles: list[str]
    regions: list[str]
    departments: list[str]
    staff_id: str
    tokens: list[dict[str, str]]
    locked_until: datetime | None
    must_change_password: bool
    created_at: datetime

    @classmethod
    def of(cls, a: UserAccount) -> UserView:
        return cls(
            a.username, a.display_name, sorted(a.roles), list(a.regions), list(a.departments), a.staff_id,
            [{"token_id": t.token_id, "name": t.name, "issued_at": t.issued_at.isoformat()} for t in a.tokens.values()],
            a.locked_until, a.must_change_password, a.created_at,
        )  # fmt: skip

    def to_dict(self) -> dict[str, object]:
        d = dict(self.__dict__)
        d["locked_until"] = self.locked_until.isoformat() if self.locked_until else None
        d["created_at"] = self.created_at.isoformat()
        return d


def cli_actor() -> dict[str, str]:
    """Who acts when the server's own command line changes accounts: the operating-system user."""
    try:
        who = getpass.getuser()
    except (KeyError, OSError):
        who = str(os.getuid())
    return {"user_id": f"os:{who}", "name": f"服务器命令行（{who}）", "department": "", "post": "", "region": "",
            "via": VIA_CLI}  # fmt: skip


def principal_actor(p: Principal) -> dict[str, str]:
    """A signed-in user acting on accounts (an admin), as recorded in the events."""
    if p.via == VIA_CLI:
        return cli_actor()
    return {"user_id": p.username, "name": p.display_name, "department": "", "post": "", "region": "", "via": p.via}


def write_private(path: Path, text: str) -> None:
    """Create or replace a file readable by its owner only (mode 0600), never briefly world-readable."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(text)
    os.chmod(tmp, 0o600)
    os.replace(tmp, path)


class IdentityService:
    def __init__(self, boot: Bootstrap) -> None:
        self.boot = boot
        self.hasher = PasswordHasher()
        self._dummy_hash: str | None = None
        self._cache: dict[UUID, UserAccount] = {}  # accounts as last loaded; never changed in place

    # ---- accounts -----------------------------------------------------------------------------

    def get(self, username: str) -> UserAccount:
        found = self._load(username)
        if found is None:
            raise UserNotFound(f"未找到用户「{username}」", username=username)
        return found

    def _load(self, username: str) -> UserAccount | None:
        try:
            check_username(username)
        except InvalidValue:
            return None
        aid = account_id(username)
        store = self.boot.store
        cached = self._cache.get(aid)
        if cached is not None and not store.recorder.select_events(aid, gt=cached.version, limit=1):
            return cached  # nothing recorded since: one indexed read instead of replaying the account
        try:
            account: UserAccount = store.repository.get(aid)
        except AggregateNotFoundError:
            return None
        self._cache[aid] = account
        return account

    def users(self) -> list[UserView]:
        return [UserView.of(self.get(name)) for name in self._usernames()]

    def _usernames(self) -> Iterator[str]:
        store = self.boot.store
        topic = get_topic(UserAccount.Registered)
        start = 1
        while batch := store.recorder.select_notifications(start=start, limit=500, topics=[topic]):
            for n in batch:
                yield store.mapper.to_domain_event(n).username  # type: ignore[attr-defined]
            start = batch[-1].id + 1

    def any_user(self) -> bool:
        topic = get_topic(UserAccount.Registered)
        return bool(self.boot.store.recorder.select_notifications(start=1, limit=1, topics=[topic]))

    def add(
        self,
        username: str,
        *,
        display_name: str = "",
        password: str | None = None,
        roles: list[Role],
        scope: Scope | None = None,
        staff_id: str = "",
        by: dict[str, str],
        must_change_password: bool = False,
    ) -> tuple[UserView, str | None]:
        """Register an account; without a password one is generated and returned (shown once)."""
        username = check_username(username)
        generated = None
        if password is None:
            password = generated = secrets.token_urlsafe(12)
        check_password(password, username)
        if self._load(username) is not None:
            raise UserExists(f"用户「{username}」已存在", username=username)
        staff = self.boot.directory.actor(staff_id) if staff_id else None
        scope = scope or default_scope(roles, staff)
        if scope.regions and not scope.all_regions:
            for r in scope.regions:
                self.boot.directory.check_region(r)
        pw_hash = self.hasher.hash(password)
        account = UserAccount.register(
            username, display_name=display_name or (staff.name if staff else username), password_hash=pw_hash,
            roles=roles, scope=scope, staff_id=staff.user_id if staff else "",
            must_change_password=must_change_password, actor=by, at=_now(), command_id=_cmd(),
        )  # fmt: skip
        self.boot.store.save(account)
        return UserView.of(account), generated

    def _act(self, username: str, act: Callable[[UserAccount, str], None]) -> UserAccount:
        self.get(username)
        command_id = _cmd()
        out: Outcome[UserAccount] = execute(
            self.boot.store, account_id(username), command_id, lambda a: act(a, command_id),
            missing=lambda: UserNotFound(f"未找到用户「{username}」", username=username),
        )  # fmt: skip
        account: UserAccount = out.aggregate
        return account

    def set_password(self, username: str, password: str, *, by: dict[str, str], must_change: bool = False) -> None:
        check_password(password, username)
        pw_hash = self.hasher.hash(password)
        self._act(username, lambda a, c: a.change_password(pw_hash, must_change=must_change, actor=by, at=_now(),
                                                             command_id=c))  # fmt: skip

    def change_own_password(self, p: Principal, old: str, new: str) -> None:
        account = self.get(p.username)
        if not self._verify(account.password_hash, old):
            raise PasswordRejected("原密码不正确", field="old_password")
        self.set_password(p.username, new, by=principal_actor(p))

    def grant(self, username: str, role: Role, *, by: dict[str, str], scope: Scope | None = None,
              staff_id: str | None = None) -> UserView:  # fmt: skip
        def act(a: UserAccount, c: str) -> None:
            if role.value not in a.roles:
                a.grant(role, actor=by, at=_now(), command_id=c)
            if staff_id is not None:
                a.link_staff(self.boot.directory.actor(staff_id).user_id if staff_id else "", actor=by, at=_now(),
                             command_id=c)  # fmt: skip
            if scope is not None:
                a.set_scope(scope, actor=by, at=_now(), command_id=c)

        account = self.get(username)
        if role.value in account.roles and scope is None and staff_id is None:
            raise RoleAlreadyHeld(f"用户「{username}」已有角色「{role.label}」", role=role.value)
        return UserView.of(self._act(username, act))

    def revoke(self, username: str, role: Role, *, by: dict[str, str]) -> UserView:
        return UserView.of(self._act(username, lambda a, c: a.revoke(role, actor=by, at=_now(), command_id=c)))

    def issue_token(self, username: str, name: str, *, by: dict[str, str]) -> tuple[str, str]:
        """A new API token for the account: (token id, the token itself, shown this once; only its hash is kept)."""
        token_id = secrets.token_hex(6)
        secret = secrets.token_urlsafe(32)
        self._act(username, lambda a, c: a.issue_token(token_id, name, _sha256(secret), actor=by, at=_now(),
                                                       command_id=c))  # fmt: skip
        return token_id, f"{TOKEN_PREFIX}.{username}.{token_id}.{secret}"

    def revoke_token(self, username: str, token_id: str, *, by: dict[str, str]) -> None:
        self._act(username, lambda a, c: a.revoke_token(token_id, actor=by, at=_now(), command_id=c))

    # ---- signing in ---------------------------------------------------------------------------

    def sign_in(self, username: str, password: str, *, channel: str = "web") -> tuple[Principal, int]:
        """Check the password; repeated failures lock the account for a while. Returns the principal and
        the account's session epoch (a password change signs every older session out)."""
        s = self.boot.settings
        account = self._load(username.strip())
        if account is None:
            self._verify(self._dummy(), password)  # the same work as for a real account: names cannot be probed
            raise SignInRefused("用户名或密码错误")
        now = _now()
        if account.locked(now):
            raise AccountLocked(_locked_message(account.locked_until))
        if not self._verify(account.password_hash, password):
            self._act(account.username, lambda a, c: a.sign_in_failed(
                channel=channel, max_failures=s.signin_max_failures,
                lockout=timedelta(minutes=s.signin_lockout_minutes), at=now, command_id=c))  # fmt: skip
            account = self.get(account.username)
            if account.locked(now):
                raise AccountLocked(_locked_message(account.locked_until))
            raise SignInRefused("用户名或密码错误")
        account = self._act(account.username, lambda a, c: a.signed_in(channel, at=now, command_id=c))
        return self.principal_of(account, channel), account.epoch

    def session_principal(self, username: str, epoch: int) -> Principal | None:
        """The user of a browser session, or None when the account is gone or its password changed since."""
        account = self._load(username)
        if account is None or account.epoch != epoch:
            return None
        return self.principal_of(account, "web")

    def token_principal(self, token: str) -> Principal:
        parts = token.strip().split(".")
        refused = NotAuthenticated("API 令牌无效或已吊销")
        if len(parts) < 4 or parts[0] != TOKEN_PREFIX:
            raise refused
        username, token_id, secret = ".".join(parts[1:-2]), parts[-2], parts[-1]
        account = self._load(username)
        found = account.tokens.get(token_id) if account else None
        if account is None or found is None or not hmac.compare_digest(found.token_hash, _sha256(secret)):
            raise refused
        return self.principal_of(account, "api")

    def principal_of(self, account: UserAccount, channel: str) -> Principal:
        actor = None
        if account.staff_id:
            try:
                actor = self.boot.directory.actor(account.staff_id)
            except DomainError:
                actor = None  # the post left the directory: the user may read, not act
        via = f"{channel}:{account.username}"
        return Principal(
            username=account.username,
            display_name=account.display_name,
            roles=account.role_set,
            scope=account.scope,
            actor=Actor(**{**actor.__dict__, "via": via}) if actor else None,
            via=via,
        )

    def cli_principal(self) -> Principal:
        """The server's command line: trusted like an admin (it can read the store anyway)."""
        a = cli_actor()
        return Principal(a["user_id"], a["name"], frozenset({Role.SYSTEM_ADMIN}), Scope((ALL_REGIONS,)), None, VIA_CLI)

    # ---- first start, demo users, the web secret ----------------------------------------------

    def ensure_admin(self) -> Path | None:
        """On a data directory without any account: create ``admin`` with a random password, written to a
        file only the owner can read; return that file (None when accounts already exist)."""
        if self.any_user():
            return None
        password = secrets.token_urlsafe(15)
        self.add(ADMIN_USER, display_name="系统管理员", password=password, roles=[Role.SYSTEM_ADMIN],
                 scope=Scope((ALL_REGIONS,)), by=cli_actor(), must_change_password=True)  # fmt: skip
        path = self.boot.settings.data_dir / ADMIN_PASSWORD_FILE
        write_private(path, f"{ADMIN_USER}\n{password}\n")
        return path

    def add_demo_users(self, *, by: dict[str, str], region: str | None = None) -> tuple[int, int]:
        """One user per staff post of the directory (user name = staff id, password ``DEMO_PASSWORD``).

        Idempotent: existing accounts are left alone. Returns (added, already there)."""
        pw_hash = self.hasher.hash(DEMO_PASSWORD)  # one hash for the one published demo password
        added = existing = 0
        batch: list[UserAccount] = []
        for actor in self.boot.directory.staff(region):
            if actor.post not in POST_ROLES:
                continue
            if self._load(actor.user_id) is not None:
                existing += 1
                continue
            role = POST_ROLES[actor.post]
            batch.append(UserAccount.register(
                actor.user_id, display_name=actor.name, password_hash=pw_hash, roles=[role],
                scope=default_scope([role], actor), staff_id=actor.user_id, must_change_password=False,
                actor=by, at=_now(), command_id=_cmd(),
            ))  # fmt: skip
            if len(batch) >= 200:
                self.boot.store.save(*batch)
                added, batch = added + len(batch), []
        if batch:
            self.boot.store.save(*batch)
            added += len(batch)
        return added, existing

    def web_secret(self) -> str:
        """The key that signs browser sessions: random, kept in the data dir with mode 0600."""
        path = self.boot.settings.data_dir / WEB_SECRET_FILE
        try:
            secret = path.read_text(encoding="utf-8").strip()
        except FileNotFoundError:
            secret = ""
        if len(secret) < 32:
            secret = secrets.token_urlsafe(48)
            write_private(path, secret + "\n")
        return secret

    # ---- helpers ------------------------------------------------------------------------------

    def _verify(self, pw_hash: str, password: str) -> bool:
        try:
            return bool(self.hasher.verify(pw_hash, password))
        except (VerificationError, InvalidHashError):
            return False

    def _dummy(self) -> str:
        if self._dummy_hash is None:
            self._dummy_hash = self.hasher.hash(secrets.token_urlsafe(16))
        return self._dummy_hash


def default_scope(roles: list[Role], staff: Actor | None) -> Scope:
    """Where a user works when not told: the staff post's region (and its department for reviewers);
    system admins and auditors everywhere; nobody else anywhere until granted."""
    if staff is not None:
        dept = (staff.department,) if staff.post == Post.REVIEWER.value else ()
        return Scope((staff.region,), dept)
    if any(r in (Role.SYSTEM_ADMIN, Role.AUDITOR) for r in roles):
        return Scope((ALL_REGIONS,))
    return Scope()


def _locked_message(until: datetime | None) -> str:
    when = until.astimezone(SHANGHAI).strftime("%H:%M") if until else "稍后"
    return f"连续登录失败次数过多，账号已锁定至 {when}（北京时间），请稍后再试或联系管理员"


def _sha256(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def _now() -> datetime:
    return datetime.now(UTC)


def _cmd() -> str:
    return f"identity/{uuid.uuid4()}"
