"""The WHERE clause of a list query, built one optional condition at a time (filters and the keyset position of
chalicelib/domain/paging.py): the one way the stores add "this condition, when its value is given"."""

from __future__ import annotations

from typing import Any


class Where:
    def __init__(self, *conditions: str, params: tuple[Any, ...] = ()) -> None:
        self._conditions = list(conditions)
        self.params: list[Any] = list(params)

    def add(self, condition: str, *params: Any, when: bool = True) -> Where:
        """Adds ``condition`` with its ``params`` (``when`` it applies: e.g. a filter or a position is given)."""
        if when:
            self._conditions.append(condition)
            self.params.extend(params)
        return self

    @property
    def sql(self) -> str:
        return " AND ".join(self._conditions) or "TRUE"
