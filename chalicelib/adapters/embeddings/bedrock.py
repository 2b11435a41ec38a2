"""Amazon Bedrock Titan Text Embeddings V2 (production provider). boto3 is imported lazily: the
Lambda runtime ships it, and nothing else in the search path needs it."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from chalicelib.domain.errors import ServiceUnavailable
from chalicelib.observability import logger

TITAN_DIMENSIONS = (256, 512, 1024)
# Titan V2 accepts up to 8,192 tokens / 50,000 characters; our documents are far shorter, but an
# oversized input must not turn into a failed write.
MAX_INPUT_CHARS = 50_000


class BedrockEmbedder:
    """Embedder protocol implementation over ``bedrock-runtime.invoke_model``."""

    def __init__(self, model_id: str, dimensions: int = 1024, client: Any = None, region: str | None = None) -> None:
        if dimensions not in TITAN_DIMENSIONS:
            raise ValueError(f"Titan Text Embeddings V2 supports {TITAN_DIMENSIONS} dimensions, not {dimensions}")
        self._model_id = model_id
        self._dimensions = dimensions
        self._client = client
        self._region = region

    @property
    def name(self) -> str:
        return f"bedrock:{self._model_id}"

    @property
    def dimensions(self) -> int:
        return self._dimensions

    def _bedrock(self) -> Any:
        if self._client is None:
            import boto3  # lazily: only this provider needs it

            self._client = boto3.client("bedrock-runtime", region_name=self._region)
        return self._client

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        return [self._embed_one(text) for text in texts]

    def _embed_one(self, text: str) -> list[float]:
        from botocore.exceptions import BotoCoreError, ClientError

        body = {"inputText": text[:MAX_INPUT_CHARS] or " ", "dimensions": self._dimensions, "normalize": True}
        try:
            response = self._bedrock().invoke_model(
                modelId=self._model_id, body=json.dumps(body), contentType="application/json", accept="application/json"
            )
            vector = json.loads(response["body"].read())["embedding"]
        except (BotoCoreError, ClientError, KeyError, ValueError) as exc:
            logger.warning("bedrock embedding failed", extra={"model_id": self._model_id, "error": type(exc).__name__})
            raise ServiceUnavailable("The embedding service is not available; try again shortly.") from exc
        if len(vector) != self._dimensions:
            raise ServiceUnavailable(f"The embedding model returned {len(vector)} dimensions, not {self._dimensions}.")
        return [float(x) for x in vector]
