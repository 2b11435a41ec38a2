"""Builds the configured embedding provider (imports each provider's dependencies only when chosen)."""

from __future__ import annotations

from chalicelib.adapters.embeddings import Embedder
from chalicelib.config import Settings
from chalicelib.domain.config_error import ConfigError


def make_embedder(settings: Settings) -> Embedder:
    provider, dimensions = settings.embedding_provider, settings.embedding_dimensions
    if provider == "bedrock":
        from chalicelib.adapters.embeddings.bedrock import BedrockEmbedder

        return BedrockEmbedder(settings.bedrock_model_id, dimensions or 1024, region=settings.aws_region)
    if provider == "sentence-transformers":
        from chalicelib.adapters.embeddings.local_model import MINILM_DIMENSIONS, LocalModelEmbedder

        if dimensions not in (None, MINILM_DIMENSIONS):
            raise ConfigError(f"EMBEDDING_DIMENSIONS must be {MINILM_DIMENSIONS} (or unset) with sentence-transformers")
        return LocalModelEmbedder()
    from chalicelib.adapters.embeddings.hashed import DEFAULT_DIMENSIONS, HashedEmbedder

    return HashedEmbedder(dimensions or DEFAULT_DIMENSIONS)
