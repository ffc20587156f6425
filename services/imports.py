"""Importing cases from the legacy platform, and adopting the ones still open."""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from domain.cases.application import ImportOutcome
from domain.cases.legacy import IMPORT_COLUMNS, ParsedImport, parse_import
from domain.errors import DomainError
from projections.queries import open_imported_cases
from services.errors import TemporalUnreachable

if TYPE_CHECKING:
    from services.bootstrap import Bootstrap
    from services.parallel import ProjectLoadReport


class ImportRefused(DomainError):
    code = "IMPORT_ROWS_INVALID"


class ImportConflict(DomainError):
    code = "IMPORT_CONFLICT"


class ImportFileUnreadable(DomainError):
    code = "IMPORT_FILE_UNREADABLE"


@dataclass
class ImportReport:
    parsed: ParsedImport
    outcome: ImportOutcome = field(default_factory=ImportOutcome)
    adopted: list[str] = field(default_factory=list)
    adoption_pending: int = 0  # open cases not taken over (Temporal was not reachable)
    projects: ProjectLoadReport | None = None  # a scenario's parallel-approval projects, when it has some


class ImportService:
    def __init__(self, boot: Bootstrap) -> None:
        self.boot = boot

    def parse(self, path: Path) -> ParsedImport:
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as e:
            raise ImportFileUnreadable(f"无法读取文件 {path}：{e}") from None
        return parse_import(text, self.boot.store.catalogue, self.boot.store.calendar)

    async def import_file(
        self,
        path: Path,
        *,
        skip_bad: bool = False,
        reject_file: Path | None = None,
        batch: str | None = None,
        adopt: bool = True,
    ) -> ImportReport:
        """Bad rows refuse the whole file (unless ``skip_bad``); re-importing is idempotent; the open
        cases are then adopted (each gets a workflow of its own) when Temporal is reachable."""
        parsed = self.parse(path)
        report = ImportReport(parsed)
        if parsed.errors:
            if reject_file:
                write_rejects(reject_file, parsed)
            if not skip_bad:
                raise ImportRefused(
                    f"{len(parsed.errors)} 行有误，整个文件未导入（可用 --skip-bad 只导入正确的行）",
                    rows=[f"第{e.line}行 {e.case_no}：{e.reason}" for e in parsed.errors[:50]]
                    + ([f"…… 另有 {len(parsed.errors) - 50} 行错误"] if len(parsed.errors) > 50 else []),
                )
        store = self.boot.store
        report.outcome = store.import_cases(parsed.records, batch=batch or path.name, skip_conflicts=skip_bad)
        if report.outcome.conflicts and not skip_bad:
            raise ImportConflict(
                f"{len(report.outcome.conflicts)} 个办件编号已存在且内容不同，整个文件未导入",
                rows=[f"{no}：{why}" for no, why in report.outcome.conflicts[:50]],
            )
        open_cases = [r.case_no for r in parsed.records if not r.result]
        if adopt and open_cases:
            try:
                report.adopted = await self.boot.cases.adopt(open_cases)
            except TemporalUnreachable:
                report.adoption_pending = len(open_cases)
        return report

    async def adopt_open(self, limit: int | None = None) -> list[str]:
        """Take over every open imported case that has no workflow yet (``oneseal import adopt``)."""
        self.boot.require_data()
        self.boot.projections.ensure_fresh()
        return await self.boot.cases.adopt(open_imported_cases(self.boot.read_models, limit))


def write_rejects(path: Path, parsed: ParsedImport) -> None:
    with path.open("w", encoding="utf-8", newline="") as f:
        w = csv.writer(f)
        w.writerow(["line", *IMPORT_COLUMNS, "reason"])
        for row in parsed.errors:
            w.writerow([row.line, *parsed.bad_lines.get(row.line, [row.case_no]), row.reason])
