"""The default embedding provider: hashed lexical features, pure Python, deterministic, offline.

Hand-written because the alternatives need an ML runtime (torch, onnxruntime) that must stay out of
the Lambda package, or a network service. It is the "hashing trick" (Weinberger et al. 2009) over
features that suit alert and runbook text:
- words, after splitting CamelCase identifiers ("KubePodCrashLooping" -> kube pod crash looping),
  lower-casing, dropping a short list of function words and light suffix stemming;
- word bigrams (phrases such as "crash loop", "error budget");
- character 3-5-grams of each word, so related forms ("expire"/"expiration", "config"/"configuration")
  still share features after stemming misses them.
Counts are damped (1 + log count), hashed with a signed keyed BLAKE2b into a fixed dimension, and the
vector is L2-normalised, so cosine similarity is a dot product. Hashes come from BLAKE2b, not
``hash()``, so vectors are identical across processes and Python versions.
"""

from __future__ import annotations

import hashlib
import itertools
import math
import re
from collections import defaultdict
from collections.abc import Sequence
from functools import lru_cache

from chalicelib.domain.search import split_camel_case

DEFAULT_DIMENSIONS = 512
WORD_WEIGHT, BIGRAM_WEIGHT, NGRAM_WEIGHT = 1.0, 0.5, 0.3
NGRAM_SIZES = (3, 4, 5)
_WORD = re.compile(r"[A-Za-z][A-Za-z0-9]*")
# English function words. Deliberately NOT "up", "down", "out", "off", "over": in alerts they carry
# the meaning ("TargetDown", "running out of space").
STOP_WORDS = frozenset(
    {
        "a", "an", "and", "are", "as", "at", "be", "been", "being", "but", "by", "can", "could", "did", "do",
        "does", "for", "from", "had", "has", "have", "having", "he", "her", "his", "i", "if", "in", "into",
        "is", "it", "its", "itself", "may", "might", "more", "most", "must", "no", "nor", "not", "of", "on",
        "once", "only", "or", "other", "our", "own", "same", "she", "should", "so", "some", "such", "than",
        "that", "the", "their", "them", "then", "there", "these", "they", "this", "those", "through", "to",
        "too", "under", "until", "very", "was", "we", "were", "what", "when", "where", "which", "while", "who",
        "whom", "why", "will", "with", "would", "you", "your", "about", "above", "after", "again", "against",
        "all", "any", "because", "before", "below", "between", "both", "during", "each", "few", "further",
        "here", "how", "just", "now", "s", "t", "don"
    }
)
# Longest suffix first; each needs a stem of at least three letters left.
_SUFFIXES = (("ies", "y"), ("sses", "ss"), ("ing", ""), ("ed", ""), ("es", ""), ("s", ""))
_ES_PLURAL = re.compile(r"(ss|x|ch|sh|zz)es$")


def stem(word: str) -> str:
    """Light English suffix stripping (plural, -ing, -ed): enough to fold the common inflections."""
    for suffix, replacement in _SUFFIXES:
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            if suffix == "s" and word.endswith("ss"):
                return word
            if suffix == "es" and not _ES_PLURAL.search(word):
                continue
            return word[: -len(suffix)] + replacement
    return word


def words(text: str) -> list[str]:
    out = []
    for token in _WORD.findall(split_camel_case(text)):
        lowered = token.lower()
        if len(lowered) >= 2 and lowered not in STOP_WORDS:
            out.append(stem(lowered))
    return out


def features(text: str) -> dict[str, float]:
    """Feature -> weight (word and bigram weights, fractional n-gram shares)."""
    counts: defaultdict[str, float] = defaultdict(float)
    tokens = words(text)
    for word in tokens:
        counts["w:" + word] += WORD_WEIGHT
        marked = f"<{word}>"
        grams = [marked[i:i + n] for n in NGRAM_SIZES for i in range(len(marked) - n + 1)]
        if grams:
            # Every word spends the same n-gram weight however long it is.
            share = NGRAM_WEIGHT * len(NGRAM_SIZES) / len(grams)
            for gram in grams:
                counts["g:" + gram] += share
    for first, second in itertools.pairwise(tokens):
        counts[f"b:{first}_{second}"] += BIGRAM_WEIGHT
    return counts


@lru_cache(maxsize=65536)
def _slot(feature: str, dimensions: int) -> tuple[int, float]:
    value = int.from_bytes(hashlib.blake2b(feature.encode(), digest_size=8).digest(), "little")
    return value % dimensions, (1.0 if value >> 63 else -1.0)


class HashedEmbedder:
    """Embedder protocol implementation; the default provider."""

    def __init__(self, dimensions: int = DEFAULT_DIMENSIONS) -> None:
        self._dimensions = dimensions

    @property
    def name(self) -> str:
        return "default-hashed-v1"

    @property
    def dimensions(self) -> int:
        return self._dimensions

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        return [self._embed_one(text) for text in texts]

    def _embed_one(self, text: str) -> list[float]:
        vector = [0.0] * self._dimensions
        for feature, count in features(text).items():
            index, sign = _slot(feature, self._dimensions)
            vector[index] += sign * (1.0 + math.log(count) if count >= 1.0 else count)
        norm = math.sqrt(sum(x * x for x in vector))
        # An empty text (no words at all) stays the zero vector: cosine distance treats it as unrelated.
        return [x / norm for x in vector] if norm else vector
