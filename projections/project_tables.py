"""Read-model tables of parallel approval (SQLAlchemy Core). Times are naive UTC; months are cut in Beijing time."""

from __future__ import annotations

from sqlalchemy import BigInteger, Boolean, Column, DateTime, Index, Integer, String, Table, Text

from projections.tables import metadata, task_table

project_facts = Table(
    "project_facts",
    metadata,
    Column("project_id", String(32), primary_key=True),
    Column("code", String(32), nullable=False, unique=True),
    Column("name", String(200), nullable=False),
    Column("owner", String(200), nullable=False),
    Column("investment_fen", BigInteger, nullable=False),  # exact: integer fen
    Column("level", String(16), nullable=False),
    Column("region", String(32), nullable=False),
    Column("status", String(16), nullable=False),  # registered | in_progress | completed | denied
    Column("stage", String(32)),  # the stage last accepted (None before the first)
    Column("stage_status", String(16)),  # under_review | suspended | approved | denied
    Column("lead_department", String(100)),
    Column("registered_at", DateTime, nullable=False),
    Column("stage_opened_at", DateTime),
    Column("stage_due_at", DateTime),
    Column("stages_decided", Integer, nullable=False),
    Column("last_decided_at", DateTime),
    Column("reform_warned", Boolean, nullable=False),
    Column("reform_overdue", Boolean, nullable=False),
    Column("demo", Boolean, nullable=False),  # a demonstration drive's project: out of the bulletin unless asked
    Column("batch", String(64), nullable=False),  # the scenario that loaded it; "" when registered live
    Column("state", Text, nullable=False),  # JSON: leads per stage and the open stage's department tasks
    Column("version", Integer, nullable=False),
    Index("ix_project_facts_region", "region", "status"),
)

# One row per project and month in which it was handled (a stage decided, Beijing time): the bulletin's
# definition, so a project counts once per month however many of its stages were decided then.
project_months = Table(
    "project_months",
    metadata,
    Column("project_id", String(32), primary_key=True),
    Column("month", String(7), primary_key=True),
    Column("level", String(16), nullable=False),
    Column("region", String(32), nullable=False),
    Column("investment_fen", BigInteger, nullable=False),
    Column("demo", Boolean, nullable=False),
    Index("ix_project_months_month", "month", "level", "region"),
)

project_tasks = task_table("project_tasks")

PROJECTS_TABLES: tuple[Table, ...] = (project_facts, project_months, project_tasks)
