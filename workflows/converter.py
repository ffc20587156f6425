"""The data converter every OneSeal Temporal client uses (and so every worker, which takes its client's).

Temporal's default JSON conversion, with one change: turning JSON back into a dataclass resolves the
class's type hints once, not at every decode. The SDK calls ``typing.get_type_hints`` for each dataclass
on each decode, which (with ``from __future__ import annotations``) compiles every field's annotation
string again: for a ``CaseView`` crossing the boundary at every step that was the largest single cost the
profiler found in a case's workflow tasks (docs/performance.md). Payloads are unchanged (encoding is the
SDK's own), so histories recorded with the default converter replay the same.
"""

from __future__ import annotations

import dataclasses
import types
import typing
import weakref
from typing import Any, get_type_hints

from temporalio.converter import (
    CompositePayloadConverter,
    DataConverter,
    DefaultPayloadConverter,
    JSONPlainPayloadConverter,
    JSONTypeConverter,
    value_to_type,
)

_Fields = tuple[tuple[str, bool, Any], ...]  # (name, init, type hint) of each field
# Weak keys: a dataclass defined inside a workflow module is a new class in every sandboxed instance.
_FIELDS: weakref.WeakKeyDictionary[type, _Fields] = weakref.WeakKeyDictionary()


def _fields(cls: type) -> _Fields:
    found = _FIELDS.get(cls)
    if found is None:
        hints = get_type_hints(cls)
        found = _FIELDS[cls] = tuple((f.name, f.init, hints[f.name]) for f in dataclasses.fields(cls))
    return found


_PLAIN = frozenset({str, int, float, bool})


def _optional(hint: Any) -> bool:
    return typing.get_origin(hint) in (typing.Union, types.UnionType) and type(None) in typing.get_args(hint)


class DataclassHintsOnce(JSONTypeConverter):
    """The SDK's own dataclass branch of ``value_to_type`` (unknown keys ignored, missing required fields
    refused by the constructor, ``init=False`` fields restored), with the type hints resolved once."""

    def __init__(self) -> None:
        self.converters: list[JSONTypeConverter] = [self]

    def to_typed_value(self, hint: type, value: Any) -> Any | None:
        if type(value) is hint and hint in _PLAIN:  # a str for a str: what the SDK would answer, sooner
            return value
        if value is None and _optional(hint):
            return None
        if not (isinstance(hint, type) and dataclasses.is_dataclass(hint) and isinstance(value, dict)):
            return JSONTypeConverter.Unhandled  # the SDK's own conversion (and its errors)
        init: dict[str, Any] = {}
        later: dict[str, Any] = {}
        for name, is_init, field_hint in _fields(hint):
            raw = value.get(name, dataclasses.MISSING)
            if raw is dataclasses.MISSING:
                continue
            try:
                converted = value_to_type(field_hint, raw, self.converters)
            except Exception as err:
                raise TypeError(f"Failed converting field {name} on dataclass {hint}") from err
            (init if is_init else later)[name] = converted
        obj = hint(**init)
        for name, converted in later.items():
            object.__setattr__(obj, name, converted)
        return obj


class PayloadConverter(CompositePayloadConverter):
    """The SDK's default payload converters, the JSON one with ``DataclassHintsOnce``."""

    def __init__(self) -> None:
        super().__init__(
            *(
                JSONPlainPayloadConverter(custom_type_converters=[DataclassHintsOnce()])
                if isinstance(c, JSONPlainPayloadConverter)
                else c
                for c in DefaultPayloadConverter.default_encoding_payload_converters
            )
        )


DATA_CONVERTER = DataConverter(payload_converter_class=PayloadConverter)
# For ``value_to_type`` called by hand (a command's request typed by the step registry in the activity).
TYPE_CONVERTERS: list[JSONTypeConverter] = DataclassHintsOnce().converters
