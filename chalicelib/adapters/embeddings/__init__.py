"""Text embeddings behind one small interface, and the provider chosen by configuration.

Providers: ``default`` (hashed features, pure Python, offline, deterministic), ``bedrock``
(Amazon Titan Text Embeddings V2 via boto3) and ``sentence-transformers`` (all-MiniLM-L6-v2, an
optional extra that is never part of the default install or the Lambda package).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol


class Embedder(Protocol):
    """Turns texts into unit-length vectors of a fixed dimension."""

    @property
    def name(self) -> str:
        """Identifies the model and its settings; vectors from different names are not comparable."""
        ...

    @property
    def dimensions(self) -> int: ...

    def embed(self, texts: Sequence[str]) -> list[list[float]]: ...
