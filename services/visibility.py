"""Temporal's visibility: the search attributes OneSeal's workflows carry, registered and queried.

``ensure_search_attributes`` registers what is missing (idempotent; the worker calls it at start,
``oneseal search-attributes`` on demand). On Temporal Cloud the operator API refuses: the attributes
are then created with ``tcld`` or the Cloud UI once (docs/operations.md).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from temporalio.api.enums.v1 import IndexedValueType
from temporalio.api.operatorservice.v1 import AddSearchAttributesRequest, ListSearchAttributesRequest
from temporalio.client import Client
from temporalio.service import RPCError

from domain.errors import DomainError
from workflows.search_attributes import ALL, cli_type

if TYPE_CHECKING:
    from services.bootstrap import Bootstrap


@dataclass(frozen=True)
class AttributeState:
    name: str
    type: str  # Keyword, Datetime, Bool …
    state: str  # present | added | wrong_type | missing (could not add)


class SearchAttributesUnavailable(DomainError):
    code = "SEARCH_ATTRIBUTES_UNAVAILABLE"


async def ensure_search_attributes(client: Client, namespace: str, *, add: bool = True) -> list[AttributeState]:
    """Every attribute of ``workflows.search_attributes.ALL`` on the server, adding the missing ones."""
    try:
        found = await client.operator_service.list_search_attributes(ListSearchAttributesRequest(namespace=namespace))
    except RPCError as e:
        raise SearchAttributesUnavailable(f"无法读取 Temporal 的搜索属性（{e.message}）") from None
    have = {**found.system_attributes, **found.custom_attributes}
    states: list[AttributeState] = []
    missing: dict[str, IndexedValueType.ValueType] = {}
    for key in ALL:
        wanted = IndexedValueType.Value(f"INDEXED_VALUE_TYPE_{key.indexed_value_type.name}")
        if key.name not in have:
            missing[key.name] = wanted
        elif have[key.name] != wanted:
            states.append(AttributeState(key.name, cli_type(key), "wrong_type"))
        else:
            states.append(AttributeState(key.name, cli_type(key), "present"))
    if missing and add:
        try:
            await client.operator_service.add_search_attributes(
                AddSearchAttributesRequest(search_attributes=missing, namespace=namespace)
            )
        except RPCError as e:
            raise SearchAttributesUnavailable(
                f"无法在 Temporal 上创建搜索属性 {'、'.join(missing)}（{e.message}）：请由运维人员按 "
                "docs/operations.md 创建"
            ) from None
    by_name = {k.name: k for k in ALL}
    states += [AttributeState(n, cli_type(by_name[n]), "added" if add else "missing") for n in missing]
    return sorted(states, key=lambda s: [k.name for k in ALL].index(s.name))


async def list_workflow_ids(client: Client, query: str) -> list[str]:
    """The ids of the workflows a visibility query finds (``Region='汶川县' AND CaseStatus='under_review'``)."""
    return [w.id async for w in client.list_workflows(query)]


async def register(boot: Bootstrap, *, add: bool = True) -> list[AttributeState]:
    """``oneseal search-attributes``: the configured Temporal's attributes, the missing ones added."""
    client = await boot.temporal()
    return await ensure_search_attributes(client, boot.settings.temporal_namespace, add=add)
