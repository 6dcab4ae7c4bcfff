"""In-process cache of posting matrices, keyed by (organization, matrix version).

A published matrix version is immutable, so a cached entry can never be stale: publishing a new
version changes the key, not the value.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable

from accounting.matrix import PostingMatrix


class MatrixCache:
    def __init__(self, max_entries: int = 256) -> None:
        self._entries: OrderedDict[tuple[str, int], PostingMatrix] = OrderedDict()
        self._max_entries = max_entries
        self.hits = 0
        self.misses = 0

    def clear(self) -> None:
        self._entries.clear()

    def get(self, org_id: str, version: int, load: Callable[[], PostingMatrix]) -> PostingMatrix:
        key = (org_id, version)
        matrix = self._entries.get(key)
        if matrix is not None:
            self.hits += 1
            self._entries.move_to_end(key)
            return matrix
        self.misses += 1
        matrix = load()
        self._entries[key] = matrix
        if len(self._entries) > self._max_entries:
            self._entries.popitem(last=False)
        return matrix
