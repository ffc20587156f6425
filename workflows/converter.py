"""The data converter every OneSeal Temporal client uses (and so every worker, which takes its client's).

Temporal's default JSON conversion (``json/plain``), with two changes, both measured in
docs/performance.md (issue 10 item 2):

- Turning JSON back into a dataclass resolves the class's type hints once, not at every decode. The SDK
  calls ``typing.get_type_hints`` for each dataclass on each decode, which (with ``from __future__ import
  annotations``) compiles every field's annotation string again.
- JSON is written and read with orjson instead of ``json`` with the SDK's ``AdvancedJSONEncoder`` (which
  builds a ``dataclasses.asdict`` copy of every dataclass and escapes every Chinese character as
  ``\\uXXXX``, 6 bytes instead of UTF-8's 3). The JSON VALUES are the SDK's own: dataclasses as objects of
  all their fields (``asdict``'s, not orjson's native dataclass form, which drops ``_`` fields and
  ``init=False`` defaults and adds ``cached_property`` values), datetimes as ``isoformat()``, keys sorted,
  sets and other iterables as lists, UUIDs as strings, enums as their values. Only the bytes differ (UTF-8
  instead of escapes, orjson's shortest float form). Whatever orjson refuses and ``json`` accepts (a dict
  key that is not a str, an int over 64 bits, a lone surrogate; on reading, ``NaN``, a lone surrogate, or
  an int orjson would read as a float) is handed to the SDK's own code, so nothing the SDK could convert is refused. Payloads recorded by the SDK's
  encoder (every history before this change) decode the same: replay compares commands, not payload bytes.
  One difference remains: a non-finite float (``nan``, ``inf``) is written as ``null`` (the SDK writes
  ``NaN``, which is not JSON); no contract carries one (``TimeRules.warning_share`` is checked to be in
  (0, 1]).
"""

from __future__ import annotations

import dataclasses
import types
import typing
import weakref
from datetime import datetime
from typing import Any, get_type_hints

import orjson
from temporalio.api.common.v1 import Payload
from temporalio.converter import (
    AdvancedJSONEncoder,
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


_NAMES: weakref.WeakKeyDictionary[type, tuple[str, ...]] = weakref.WeakKeyDictionary()
_SDK_DEFAULT = AdvancedJSONEncoder().default
_OPTIONS = orjson.OPT_SORT_KEYS | orjson.OPT_PASSTHROUGH_DATACLASS | orjson.OPT_PASSTHROUGH_DATETIME


def _default(o: Any) -> Any:
    """What orjson hands back: a dataclass as ``dataclasses.asdict`` would give it (one level: orjson comes
    back for the fields that need it), a datetime as ``isoformat()``, the rest as the SDK's encoder does."""
    if type(o) is datetime:
        return o.isoformat()
    cls = type(o)
    names = _NAMES.get(cls)
    if names is None:
        if not dataclasses.is_dataclass(o) or isinstance(o, type):
            return _SDK_DEFAULT(o)  # datetime subclasses, sets, UUIDs… or the SDK's TypeError
        names = _NAMES[cls] = tuple(f.name for f in dataclasses.fields(o))
    return {name: getattr(o, name) for name in names}


# A run of 19 digits or more: maybe an int orjson would read as a float (it reads ints from -2**63 to
# 2**64-1 exactly, others as floats, silently). Rare (an 18-digit 身份证号 is not one); when there is one,
# ``json`` reads the payload, which is always right, only slower. Found by mapping every digit to "0" and
# everything else to " " (about 1 µs for a case view; a regular expression took 13-25 µs).
_DIGITS = bytes(0x30 if 0x30 <= b <= 0x39 else 0x20 for b in range(256))
_RUN = b"0" * 19


class OrjsonPlainPayloadConverter(JSONPlainPayloadConverter):
    """``json/plain`` written and read with orjson: the SDK's JSON values, UTF-8 bytes (see the module)."""

    def to_payload(self, value: Any) -> Payload | None:
        try:
            data = orjson.dumps(value, default=_default, option=_OPTIONS)
        except TypeError:  # a non-str key, an int over 64 bits, a lone surrogate, or truly not JSON
            return super().to_payload(value)  # the SDK's encoding, or its own TypeError
        return Payload(metadata={"encoding": self.encoding.encode()}, data=data)

    def from_payload(self, payload: Payload, type_hint: type | None = None) -> Any:
        if _RUN in payload.data.translate(_DIGITS):
            return super().from_payload(payload, type_hint)
        try:
            obj = orjson.loads(payload.data)
        except orjson.JSONDecodeError:  # NaN, Infinity, a lone surrogate: json reads them; or truly broken
            return super().from_payload(payload, type_hint)  # the SDK's reading, or its "Failed parsing"
        if type_hint:
            obj = value_to_type(type_hint, obj, self._custom_type_converters)
        return obj


class PayloadConverter(CompositePayloadConverter):
    """The SDK's default payload converters, the JSON one written with orjson and read with
    ``DataclassHintsOnce``."""

    def __init__(self) -> None:
        super().__init__(
            *(
                OrjsonPlainPayloadConverter(custom_type_converters=[DataclassHintsOnce()])
                if isinstance(c, JSONPlainPayloadConverter)
                else c
                for c in DefaultPayloadConverter.default_encoding_payload_converters
            )
        )


DATA_CONVERTER = DataConverter(payload_converter_class=PayloadConverter)
# For ``value_to_type`` called by hand (a command's request typed by the step registry in the activity).
TYPE_CONVERTERS: list[JSONTypeConverter] = DataclassHintsOnce().converters
