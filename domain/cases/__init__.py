"""The case lifecycle (办件): model, step registry, aggregate, legacy cases, command handlers.

Import what you use from its module (``domain.cases.model``, ``.steps``, ``.case``, ``.legacy``,
``.application``): this package's own import stays light, so that the settings (which need only
``TimeRules``) and every CLI call do not build the aggregates and the store's application.

Events recorded before the case code moved into this package carry the old module names in their
topics (``domain.case:Case.Submitted``, ``domain.history:HistoricalCase.Imported``). Those names are
registered here, as soon as anything of the package is imported, each standing for the module the
classes moved to; that module is imported when an old topic is first resolved, so old stores still load.
"""

from __future__ import annotations

import importlib
from types import ModuleType
from typing import Any

from eventsourcing.utils import register_topic


class _MovedModule(ModuleType):
    """An old module name in stored topics, resolving to the module its classes live in now."""

    def __init__(self, old: str, new: str) -> None:
        super().__init__(old)
        self._new = new

    def __getattr__(self, name: str) -> Any:
        return getattr(importlib.import_module(self._new), name)


register_topic("domain.case", _MovedModule("domain.case", "domain.cases.case"))
register_topic("domain.history", _MovedModule("domain.history", "domain.cases.legacy"))
