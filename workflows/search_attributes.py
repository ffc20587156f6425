"""Typed search attributes: how an operator finds OneSeal's workflows in Temporal's own tools.

``temporal workflow list --query "Region='汶川县' AND CaseStatus='under_review'"`` or the same filter
in the Temporal UI. The case workflow upserts its attributes as its status changes (behind the
``search-attributes`` patch); the names reserved for the transfer (Programme, Batch, Item) and the
parallel approval (ProjectCode) are registered with the others, for those workflows to upsert.

Every attribute must exist on the server before a workflow upserts it: ``oneseal up`` passes them to
the dev server (``--search-attribute NAME=TYPE``), the worker registers what is missing when it
starts (``services.visibility.ensure_search_attributes``), and on a cluster an operator may create
them once with ``temporal operator search-attribute create`` (docs/operations.md). No personal data
(an applicant's name) is ever a search attribute: visibility stores are not the place for it.
"""

from __future__ import annotations

from typing import Any

from temporalio.common import (
    SearchAttributeKey,
    SearchAttributeUpdate,
    TypedSearchAttributes,
)

SEARCH_ATTRIBUTES_PATCH = "search-attributes"

# The case (办件)
CASE_NO = SearchAttributeKey.for_keyword("CaseNo")
REGION = SearchAttributeKey.for_keyword("Region")  # the region's name, e.g. 汶川县
DEPARTMENT = SearchAttributeKey.for_keyword("Department")  # the competent department's name
MATTER = SearchAttributeKey.for_keyword("Matter")  # the matter's code, e.g. 513221-SCJG-001
CASE_STATUS = SearchAttributeKey.for_keyword("CaseStatus")  # a CaseStatus value, e.g. under_review
PROMISED_DEADLINE = SearchAttributeKey.for_datetime("PromisedDeadline")  # UTC; unset before acceptance
OVERDUE = SearchAttributeKey.for_bool("Overdue")

# Reserved for the transfer programme (划转) and the parallel approval (并联审批): registered here,
# upserted by their workflows.
PROGRAMME = SearchAttributeKey.for_keyword("Programme")
BATCH = SearchAttributeKey.for_keyword("Batch")
ITEM = SearchAttributeKey.for_keyword("Item")
PROJECT_CODE = SearchAttributeKey.for_keyword("ProjectCode")

ALL: tuple[SearchAttributeKey[Any], ...] = (
    CASE_NO,
    REGION,
    DEPARTMENT,
    MATTER,
    CASE_STATUS,
    PROMISED_DEADLINE,
    OVERDUE,
    PROGRAMME,
    BATCH,
    ITEM,
    PROJECT_CODE,
)

# The type names the temporal CLI takes (``--search-attribute NAME=TYPE``, ``--type TYPE``).
CLI_TYPES = {"KEYWORD": "Keyword", "DATETIME": "Datetime", "BOOL": "Bool", "INT": "Int", "DOUBLE": "Double",
             "TEXT": "Text", "KEYWORD_LIST": "KeywordList"}  # fmt: skip


def cli_type(key: SearchAttributeKey[Any]) -> str:
    return CLI_TYPES[key.indexed_value_type.name]


def dev_server_args() -> list[str]:
    """``temporal server start-dev`` arguments that register every attribute (on a new database file)."""
    args: list[str] = []
    for key in ALL:
        args += ["--search-attribute", f"{key.name}={cli_type(key)}"]
    return args


def case_attributes(case: Any) -> list[SearchAttributeUpdate[Any]]:
    """The attributes of a case view (``domain.cases.model.CaseView``), each as the update that sets it."""
    pairs: list[SearchAttributeUpdate[Any]] = [
        CASE_NO.value_set(case.case_no),
        REGION.value_set(case.region),
        DEPARTMENT.value_set(case.department),
        MATTER.value_set(case.matter_code),
        CASE_STATUS.value_set(case.status.value),
        OVERDUE.value_set(bool(case.overdue)),
    ]
    if case.promised_deadline is not None:
        pairs.append(PROMISED_DEADLINE.value_set(case.promised_deadline))
    return pairs


def case_updates(case: Any, previous: TypedSearchAttributes | None) -> list[SearchAttributeUpdate[Any]]:
    """Only what changed since ``previous`` (the attributes the workflow last upserted)."""
    return [u for u in case_attributes(case) if previous is None or previous.get(u.key) != u.value]
