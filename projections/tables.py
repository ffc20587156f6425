"""Read-model tables (SQLAlchemy Core). Times are stored as naive UTC; months are cut in Asia/Shanghai."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Index,
    Integer,
    MetaData,
    String,
    Table,
)

metadata = MetaData()

case_facts = Table(
    "case_facts",
    metadata,
    Column("case_id", String(32), primary_key=True),
    Column("case_no", String(64), nullable=False, unique=True),
    Column("matter_code", String(64), nullable=False),
    Column("matter_name", String(200), nullable=False),
    Column("matter_kind", String(20), nullable=False),
    Column("department", String(100), nullable=False),
    Column("level", String(16), nullable=False),
    Column("region", String(32), nullable=False),
    Column("applicant", String(200), nullable=False),
    Column("submitted_at", DateTime, nullable=False),
    Column("accepted_at", DateTime),
    Column("decided_at", DateTime),
    Column("completed_at", DateTime),
    Column("closed_at", DateTime),  # refused or withdrawn
    Column("accepted_month", String(7)),
    Column("completed_month", String(7)),
    Column("promised_deadline", DateTime),
    Column("suspended_days", Integer, nullable=False),
    Column("suspended_since", DateTime),
    Column("on_time", Boolean),
    Column("result", String(16)),  # granted | denied | refused | withdrawn | NULL while open
    Column("status", String(24), nullable=False),
    Column("current_task", String(16)),  # intake | review | delivery | NULL
    Column("task_department", String(100)),
    Column("task_post", String(24)),
    Column("task_opened_at", DateTime),
    Column("task_due_at", DateTime),
    Column("assignee", String(64)),  # a person, once claimed; the post otherwise (AB岗)
    Column("warned", Boolean, nullable=False),
    Column("overdue", Boolean, nullable=False),
    Column("imported", Boolean, nullable=False),
    Column("import_batch", String(64)),  # the import batch of a legacy case (a scenario's name, a file name)
    Column("demo", Boolean, nullable=False),  # a case of a demonstration drive: out of the bulletin unless asked
    Column("deadline_provisional", Boolean, nullable=False),  # counted on a year whose holidays were unknown
    Column("version", Integer, nullable=False),
    Index("ix_case_facts_accepted", "accepted_month", "level", "region"),
    Index("ix_case_facts_completed", "completed_month", "level", "region"),
    Index("ix_case_facts_status", "status"),
    Index("ix_case_facts_submitted", "submitted_at", "case_no"),  # case search: newest first, cursor paging
    Index("ix_case_facts_region_submitted", "region", "submitted_at", "case_no"),  # … within a user's region
    Index("ix_case_facts_scope", "region", "department", "submitted_at", "case_no"),  # … and department
)

STAT_COUNTERS = (
    "accepted",
    "refused",
    "withdrawn",
    "completed",
    "completed_on_time",
    "completed_early",
    "completed_overdue",
    "cohort_completed",  # of the cases accepted in this month, completed so far (in any month)
)
service_stats = Table(
    "service_stats",
    metadata,
    Column("month", String(7), primary_key=True),
    Column("level", String(16), primary_key=True),
    Column("region", String(32), primary_key=True),
    Column("department", String(100), primary_key=True),
    Column("matter_kind", String(20), primary_key=True),
    Column("demo", Boolean, primary_key=True),
    *(Column(name, Integer, nullable=False, default=0) for name in STAT_COUNTERS),
)


def task_table(name: str) -> Table:
    """A table of open tasks, one row per task, each naming who may act (department, post, region).

    Every process's projection owns one (cases, transfer supervision, project opinions …) with this
    shape; the worklist is the union of all of them (``projections.queries.worklist_for``)."""
    return Table(
        name,
        metadata,
        Column("task_id", String(160), primary_key=True),
        Column("kind", String(16), nullable=False),  # case | supervision | project …
        Column("ref", String(64), nullable=False),  # the case number, the project code …
        Column("title", String(200), nullable=False),  # what it is about (the matter's name …)
        Column("task", String(24), nullable=False),  # intake | review | delivery | opinion | claim …
        Column("label", String(40), nullable=False),  # the task as staff read it (受理, 审查决定 …)
        Column("department", String(100), nullable=False),
        Column("post", String(24), nullable=False),
        Column("region", String(32), nullable=False),
        Column("assignee", String(64)),  # a person, once claimed; the post otherwise (AB岗)
        Column("opened_at", DateTime, nullable=False),
        Column("due_at", DateTime),
        Column("priority", Integer, nullable=False),  # 0 normal, 1 warned, 2 overdue
        Index(f"ix_{name}_post", "department", "post", "region", "priority", "due_at"),
    )


case_tasks = task_table("case_tasks")

worklist_done = Table(
    "worklist_done",
    metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    Column("case_id", String(32), nullable=False),
    Column("case_no", String(64), nullable=False),
    Column("task", String(16), nullable=False),
    Column("department", String(100), nullable=False),
    Column("post", String(24), nullable=False),
    Column("region", String(32), nullable=False),
    Column("opened_at", DateTime, nullable=False),
    Column("done_at", DateTime, nullable=False),
    Column("done_by", String(64), nullable=False),
    Column("outcome", String(32), nullable=False),
    Column("notification_id", BigInteger, nullable=False, unique=True),
    Index("ix_worklist_done_by", "done_by", "done_at"),
)

projection_tracking = Table(
    "projection_tracking",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("application_name", String(64), nullable=False),
    Column("notification_id", BigInteger, nullable=False),
)

projection_schema = Table(
    "projection_schema",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("fingerprint", String(64), nullable=False),  # of the projection's table definitions
)

CASES_TABLES: tuple[Table, ...] = (case_facts, service_stats, case_tasks, worklist_done)
