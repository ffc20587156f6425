"""Users, roles and scopes: who may sign in, and which use cases they may call where (issue 8)."""

from domain.identity.account import (
    AccountLocked,
    ApiToken,
    IdentityError,
    PasswordRejected,
    RoleAlreadyHeld,
    RoleNotHeld,
    SignInRefused,
    TokenUnknown,
    UserAccount,
    UserExists,
    UserNotFound,
    account_id,
    check_password,
    check_username,
)
from domain.identity.roles import ALL_REGIONS, POST_ROLES, ROLE_POSTS, ROLE_STEPS, Principal, Role, Scope

__all__ = [
    "ALL_REGIONS",
    "POST_ROLES",
    "ROLE_POSTS",
    "ROLE_STEPS",
    "AccountLocked",
    "ApiToken",
    "IdentityError",
    "PasswordRejected",
    "Principal",
    "Role",
    "RoleAlreadyHeld",
    "RoleNotHeld",
    "Scope",
    "SignInRefused",
    "TokenUnknown",
    "UserAccount",
    "UserExists",
    "UserNotFound",
    "account_id",
    "check_password",
    "check_username",
]
