"""What the bulletin counts as a parallel-approval project "handled in the month" (docs/bulletin.md).

A project is handled in month M when at least one of its stages was decided (approved or denied) at a
moment whose Beijing-time date falls in M. It counts once in M however many of its stages were decided
then, and its total investment counts once with it. The projection implements the same rule in SQL
(one row per project and month, keyed by both); this pure version is the reference its tests compare to.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from domain.calendar import to_local
from domain.catalogue import Level
from domain.parallel.values import format_yi, from_fen
from domain.parallel.view import ProjectView


def month_of(moment: datetime) -> str:
    """``YYYY-MM`` of a moment in Beijing time (the bulletin's months are cut there)."""
    local = to_local(moment)
    return f"{local.year:04d}-{local.month:02d}"


def handled_in_month(view: ProjectView, month: str) -> bool:
    return any(s.decided_at is not None and month_of(s.decided_at) == month for s in view.stages)


@dataclass
class ParallelFigures:
    """Projects handled and their investment, exact in fen; 亿元 only when rendered."""

    projects: int = 0
    investment_fen: int = 0

    def add(self, view: ProjectView) -> None:
        self.projects += 1
        self.investment_fen += view.investment_fen

    @property
    def investment(self) -> Decimal:
        return from_fen(self.investment_fen)

    @property
    def investment_yi(self) -> str:
        """Two decimals, half-up on the exact sum: ``"58.69"``."""
        return format_yi(self.investment)


@dataclass
class MonthFigures:
    month: str
    total: ParallelFigures = field(default_factory=ParallelFigures)
    prefecture: ParallelFigures = field(default_factory=ParallelFigures)  # 州本级
    counties: ParallelFigures = field(default_factory=ParallelFigures)
    by_region: dict[str, ParallelFigures] = field(default_factory=dict)


def month_figures(views: Iterable[ProjectView], month: str) -> MonthFigures:
    figures = MonthFigures(month)
    for v in views:
        if not handled_in_month(v, month):
            continue
        figures.total.add(v)
        (figures.prefecture if v.level is Level.PREFECTURE else figures.counties).add(v)
        figures.by_region.setdefault(v.region, ParallelFigures()).add(v)
    return figures
