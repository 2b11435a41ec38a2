"""Routes of search (api.md "Search"): parse -> SearchService -> respond. GET and POST are one query.

`/api/v1/playbooks/search` cannot be taken for `/api/v1/playbooks/{workflow_id}`: Chalice prefers
literal segments, and `search` is a reserved workflow id.
"""

from __future__ import annotations

from chalice import Blueprint

from chalicelib.container import services
from chalicelib.domain.labels import MAX_VALUE_LENGTH
from chalicelib.domain.search import DEFAULT_TOP_K, MAX_TOP_K, parse_body, parse_query_params
from chalicelib.http.endpoint import Call, endpoint
from chalicelib.http.openapi import SIGNATURE
from chalicelib.http.openapi_fragments import body, ok, param, problems, query_list

search = Blueprint(__name__)
PATH = "/api/v1/playbooks/search"


@endpoint(search, PATH)
def search_get(call: Call) -> object:
    return services().search.search(parse_query_params(call.params))


@endpoint(search, PATH, methods=("POST",))
def search_post(call: Call) -> object:
    return services().search.search(parse_body(call.json()))


_ERRORS = problems(400, 401, 403, 503)
OPENAPI_PATHS = {
    PATH: {
        "get": {
            "summary": "Search workflows: hard label filters, then semantic + full-text + label ranking",
            "security": [{"apiKey": ["catalog:read"]}],
            "parameters": [
                param("query", "string", "Incident text (alert name, summary, description). Optional."),
                *(param(key, "string", f"Hard filter on the {key} label (case-insensitive; * matches anything).",
                        minLength=1, maxLength=MAX_VALUE_LENGTH, pattern="\\S")
                  for key in ("signal_type", "severity", "environment", "component", "priority")),
                query_list("label.{key}", "Hard filter on any label: label.<key>=<value>."),
                param("top_k", "integer", f"Results wanted, 1-{MAX_TOP_K} (default {DEFAULT_TOP_K}).",
                      minimum=1, maximum=MAX_TOP_K, default=DEFAULT_TOP_K),
                param("min_score", "number", "Drop results scoring below this (0-1).", minimum=0, maximum=1, default=0),
            ],
            "responses": {**ok("Ranked results", "SearchResults"), **_ERRORS},
        },
        "post": {
            "summary": "Search workflows with the full incident context (business labels included)",
            "security": [{"apiKey": ["catalog:read"]}],
            "requestBody": body("SearchRequest"),
            "responses": {**ok("Ranked results", "SearchResults"), **_ERRORS, **problems(413, 415)},
        },
    }
}

OPENAPI_SCHEMAS = {
    "SearchRequest": {
        "type": "object",
        "additionalProperties": False,
        "properties": {
            "query": {"type": "string", "maxLength": 4000},
            "labels": {
                "type": "object", "maxProperties": 32,
                "propertyNames": {"pattern": "^[a-z][a-z0-9_]{0,62}$"},
                "additionalProperties": {"type": "string", "minLength": 1, "maxLength": 128},
                "description": "Hard filters: a workflow matches when its value equals (case-insensitive), "
                               "contains (list) or is \"*\"; optional labels it does not declare do not exclude it.",
            },
            "top_k": {"type": "integer", "minimum": 1, "maximum": MAX_TOP_K, "default": DEFAULT_TOP_K},
            "min_score": {"type": "number", "minimum": 0, "maximum": 1, "default": 0},
        },
    },
    "SearchResults": {
        "type": "object",
        "required": ["results", "total", "confident"],
        "properties": {
            "total": {"type": "integer", "description": "Number of results returned."},
            "confident": {
                "type": "boolean",
                "description": "With a query: true when the top result is judged to really fit the incident "
                               "(a decision calibrated on real alert text, not a cut on score). false when "
                               "nothing fits or there are no results: do not execute any result; hand the "
                               "incident to a human or post a recommendation for a new workflow. Without a "
                               "query: true when at least one workflow matches the labels.",
            },
            "results": {"type": "array", "items": {
                "type": "object",
                "properties": {
                    "rank": {"type": "integer"}, "workflow_id": {"type": "string"}, "version": {"type": "string"},
                    "title": {"type": "string"}, "description": {"type": "string"}, "labels": {"type": "object"},
                    "container_image": {"type": "string"},
                    "signature": SIGNATURE,
                    "score": {"type": "number", "minimum": 0, "maximum": 1,
                              "description": "semantic + text + label_boost; order: score desc, workflow_id asc."},
                    "explanation": {
                        "type": "object",
                        "properties": {
                            "semantic": {"type": "number", "description": "0.3 x cosine similarity"},
                            "text": {"type": "number", "description": "0.6 x BM25F full-text match / best possible"},
                            "label_boost": {"type": "number",
                                            "description": "0.1 (1 without query) x share of request labels "
                                                           "declared with that value (1) or as * (0.5)"},
                            "matched_labels": {"type": "array", "items": {"type": "string"}},
                        },
                    },
                },
            }},
        },
    },
}
