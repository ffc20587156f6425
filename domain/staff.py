"""Staff, posts and who may act next. Worklists are projected from the ``awaiting`` on each event."""

from __future__ import annotations

import csv
from dataclasses import asdict, dataclass, replace
from enum import StrEnum
from functools import lru_cache
from pathlib import Path
from typing import Any

from domain.errors import CatalogueInvalid, UnknownActor

_DATA = Path(__file__).with_name("data") / "staff.csv"


class Post(StrEnum):
    FRONT_DESK = "front_desk"  # 综合受理窗口
    REVIEWER = "reviewer"  # 审查审批岗 (back office of the competent department)
    OUTPUT_WINDOW = "output_window"  # 统一出件窗口
    SUPERVISOR = "supervisor"  # 督查督办岗 of the service centre (督办 of parallel approval)
    SYSTEM = "system"  # timers acting on the law's behalf (§32 deemed acceptance, overdue)

    @property
    def label(self) -> str:
        return {
            Post.FRONT_DESK: "综合受理窗口",
            Post.REVIEWER: "审查审批岗",
            Post.OUTPUT_WINDOW: "统一出件窗口",
            Post.SUPERVISOR: "督查督办岗",
            Post.SYSTEM: "系统",
        }[self]


def service_centre(region: str) -> str:
    """The government service centre (政务服务中心) of a region, home of front desk and output window."""
    return f"{region}政务服务中心"


# How a person's step reached the engine, recorded in the event's actor (absent: a system timer or
# code of the engine itself). ``web:alice`` a signed-in user's browser session, ``api:alice`` an API
# token of user alice, ``cli`` the server's own command line (``--as``, trusted scripting on the host).
VIA_CLI = "cli"


@dataclass(frozen=True)
class Actor:
    user_id: str
    name: str
    department: str
    post: str
    region: str
    via: str = ""  # the channel and signed-in account (VIA_CLI, "web:<user>", "api:<user>"); not part of the post

    def to_dict(self) -> dict[str, str]:
        data = asdict(self)
        if not self.via:
            del data["via"]  # events of timers and older code stay as they were
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Actor:
        return cls(**{k: str(data.get(k) or "") for k in ("user_id", "name", "department", "post", "region", "via")})

    def same_person(self, other: Actor) -> bool:
        """The same staff member in the same post, whichever channel each came by."""
        return replace(self, via="") == replace(other, via="")

    def describe(self) -> str:
        return f"{self.name}（{self.department}·{Post(self.post).label}）"


SYSTEM_ACTOR = Actor("system", "系统", "OneSeal", Post.SYSTEM.value, "")


@dataclass(frozen=True)
class Assignment:
    """Who may act next on a case: a department's post in a region (never a single person: AB岗)."""

    department: str
    post: str
    region: str

    def to_dict(self) -> dict[str, str]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> Assignment | None:
        if not data:
            return None
        return cls(str(data["department"]), str(data["post"]), str(data["region"]))

    def admits(self, actor: Actor) -> bool:
        return (actor.department, actor.post, actor.region) == (self.department, self.post, self.region)

    def describe(self) -> str:
        return f"{self.department}·{Post(self.post).label}"


class StaffDirectory:
    def __init__(self, actors: dict[str, Actor]) -> None:
        self._actors = actors

    def get(self, user_id: str) -> Actor:
        try:
            return self._actors[user_id]
        except KeyError:
            raise UnknownActor(f"未找到工作人员「{user_id}」，请检查 --as 参数", user_id=user_id) from None

    def all(self) -> list[Actor]:
        return list(self._actors.values())

    @classmethod
    def from_file(cls, path: Path = _DATA) -> StaffDirectory:
        actors: dict[str, Actor] = {}
        with path.open(encoding="utf-8", newline="") as f:
            for line_no, row in enumerate(csv.DictReader(f), start=2):
                try:
                    actor = Actor(
                        row["user_id"], row["name"], row["department"], Post(row["post"]).value, row["region"]
                    )
                except (KeyError, ValueError) as e:
                    raise CatalogueInvalid(f"{path.name} 第{line_no}行有误：{e}", line=line_no) from None
                actors[actor.user_id] = actor
        return cls(actors)


@lru_cache(maxsize=1)
def default_staff() -> StaffDirectory:
    return StaffDirectory.from_file()
