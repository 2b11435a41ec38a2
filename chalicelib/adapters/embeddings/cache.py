"""Query embeddings cached in the warm process: agents repeat the same incident text while they
investigate, and a Bedrock call costs tens of milliseconds and money."""

from __future__ import annotations

import threading
from collections import OrderedDict

from chalicelib.adapters.embeddings import Embedder


class QueryEmbeddingCache:
    """A thread-safe LRU of query text -> vector in front of an embedder."""

    def __init__(self, embedder: Embedder, max_entries: int = 1024) -> None:
        self._embedder = embedder
        self._max = max_entries
        self._entries: OrderedDict[str, list[float]] = OrderedDict()
        self._lock = threading.Lock()

    def embed_query(self, text: str) -> list[float]:
        with self._lock:
            vector = self._entries.get(text)
            if vector is not None:
                self._entries.move_to_end(text)
                return vector
        vector = self._embedder.embed([text])[0]
        with self._lock:
            self._entries[text] = vector
            self._entries.move_to_end(text)
            while len(self._entries) > self._max:
                self._entries.popitem(last=False)
        return vector

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
