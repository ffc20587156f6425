"""Read-model tables of the transfer programme (SQLAlchemy Core). Times are naive UTC; dates ISO text.

``transfer_programmes`` one row per programme; ``transfer_items`` one row per licence item;
``transfer_list_changes`` the living list's history (one row per item per change);
``transfer_trial_weeks`` the weekly trial figures; ``transfer_supervision`` every 审管联动 task
(claimed ones too, for the reports) and ``transfer_tasks`` the open ones, in the worklist's shape.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Boolean, Column, DateTime, Float, Index, Integer, String, Table, Text

from projections.tables import metadata, task_table

transfer_programmes = Table(
    "transfer_programmes",
    metadata,
    Column("programme_id", String(32), primary_key=True),
    Column("code", String(64), nullable=False, unique=True),
    Column("name", String(200), nullable=False),
    Column("bureau", String(100), nullable=False),
    Column("region", String(32), nullable=False),
    Column("level", String(16), nullable=False),
    Column("decision_no", String(100), nullable=False),
    Column("approved_by", String(100), nullable=False),
    Column("status", String(16), nullable=False),  # planned | handover | trial | closed
    Column("trial_start", String(10), nullable=False),  # ISO date (Beijing)
    Column("trial_end", String(10), nullable=False),
    Column("planned_at", DateTime, nullable=False),
    Column("trial_started_at", DateTime),
    Column("closed_at", DateTime),
    Column("batches", Text, nullable=False),  # JSON: [{no, name, cut_over (ISO UTC), gates, opened}]
    Column("milestones", Text, nullable=False),  # JSON: {milestone: {document_no, note, at, by}}
    Column("items", Text, nullable=False),  # JSON: {code: {name, department, batch, listed}} (the living list)
    Column("version", Integer, nullable=False),
)

transfer_items = Table(
    "transfer_items",
    metadata,
    Column("item_id", String(32), primary_key=True),
    Column("programme", String(64), nullable=False),
    Column("code", String(64), nullable=False),
    Column("name", String(200), nullable=False),
    Column("origin", String(100), nullable=False),  # the origin department
    Column("supervisor", String(100), nullable=False),  # who supervises after transfer (审管联动)
    Column("bureau", String(100), nullable=False),
    Column("region", String(32), nullable=False),
    Column("batch", Integer),
    Column("status", String(16), nullable=False),  # domain.transfer.ItemStatus
    Column("authority", String(100), nullable=False),  # the department competent now
    Column("planned_cut_over", DateTime),
    Column("cut_over_at", DateTime),
    Column("trial_start", String(10)),
    Column("trial_end", String(10)),
    Column("checklist", Text, nullable=False),  # JSON: {entry: [parties still to sign]} (empty before handover)
    Column("origin_open", Integer, nullable=False),  # checklist entries the origin department has not signed
    Column("bureau_open", Integer, nullable=False),  # … the bureau has not signed
    Column("decision", String(16)),  # go_live | extend | roll_back (the latest)
    Column("decision_reason", Text),
    Column("decided_at", DateTime),
    Column("extensions", Integer, nullable=False),
    Column("removed_at", DateTime),
    Column("removal_reason", Text),
    Column("pending_undo", Integer, nullable=False),  # wind-back steps still to do
    # Behind schedule (进度滞后) from this moment on while the status stays as it is: the planned
    # cut-over for an item not yet cut over, the end of the trial's last day for one in trial.
    Column("behind_from", DateTime),
    Column("cut_over_late", Boolean, nullable=False),  # cut over after its batch's planned moment
    Column("version", Integer, nullable=False),
    Index("ix_transfer_items_programme", "programme", "origin", "status"),
    Index("uq_transfer_items_code", "programme", "code", unique=True),
)

transfer_list_changes = Table(
    "transfer_list_changes",
    metadata,
    Column("notification_id", BigInteger, primary_key=True),
    Column("code", String(64), primary_key=True),
    Column("programme", String(64), nullable=False),
    Column("kind", String(16), nullable=False),  # planned | added | removed
    Column("name", String(200), nullable=False),
    Column("department", String(100), nullable=False),
    Column("approved_by", String(100), nullable=False),
    Column("reason", Text, nullable=False),
    Column("document_no", String(100), nullable=False),
    Column("actor_id", String(64), nullable=False),
    Column("actor_name", String(64), nullable=False),
    Column("at", DateTime, nullable=False),
    Index("ix_transfer_list_changes_programme", "programme", "at"),
)

transfer_trial_weeks = Table(
    "transfer_trial_weeks",
    metadata,
    Column("item_id", String(32), primary_key=True),
    Column("week_start", String(10), primary_key=True),  # the Monday (Beijing)
    Column("programme", String(64), nullable=False),
    Column("code", String(64), nullable=False),
    Column("origin", String(100), nullable=False),
    Column("accepted", Integer, nullable=False),
    Column("completed", Integer, nullable=False),
    Column("on_time_rate", Float),  # percent as recorded; None when nothing was completed
    Column("overdue", Integer, nullable=False),
    Column("avg_working_days", Float),
    Column("recorded_at", DateTime, nullable=False),
    Index("ix_transfer_trial_weeks_programme", "programme", "origin"),
)

transfer_supervision = Table(
    "transfer_supervision",
    metadata,
    Column("task_id", String(32), primary_key=True),  # the aggregate id
    Column("case_no", String(64), nullable=False, unique=True),
    Column("programme", String(64), nullable=False),
    Column("item_code", String(64), nullable=False),
    Column("item_name", String(200), nullable=False),
    Column("decision", String(32), nullable=False),
    Column("decided_at", DateTime, nullable=False),
    Column("bureau", String(100), nullable=False),
    Column("department", String(100), nullable=False),  # the supervising department
    Column("region", String(32), nullable=False),
    Column("opened_at", DateTime, nullable=False),
    Column("claim_due", DateTime, nullable=False),
    Column("status", String(16), nullable=False),  # open | overdue | claimed
    Column("claimed_at", DateTime),
    Column("claimed_by", String(64)),
    Column("claimed_late", Boolean, nullable=False),
    Column("version", Integer, nullable=False),
    Index("ix_transfer_supervision_programme", "programme", "department", "status"),
)

# The supervising department's claim tasks (认领, 2 working days) in every worklist: ``TASK_TABLES``.
transfer_tasks = task_table("transfer_tasks")

TRANSFER_TABLES: tuple[Table, ...] = (
    transfer_programmes,
    transfer_items,
    transfer_list_changes,
    transfer_trial_weeks,
    transfer_supervision,
    transfer_tasks,
)
