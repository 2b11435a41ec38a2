"""Routes of search (README, "Search"): parse -> SearchService -> respond. GET and POST are one query.

`/api/v1/playbooks/search` cannot be taken for `/api/v1/playbooks/{workflow_id}`: Chalice prefers
literal segments, and `search` is a reserved workflow id.
"""

from __future__ import annotations

from chalice import Blueprint

from chalicelib.container import services
from chalicelib.domain import contracts
from chalicelib.domain.search import parse_body, parse_query_params
from chalicelib.http.endpoint import Call, endpoint
from chalicelib.http.views import search_view

search = Blueprint(__name__)
PATH = "/api/v1/playbooks/search"
RESULTS = {200: ("Ranked results", "SearchResults")}


@endpoint(search, PATH, query=contracts.SEARCH_QUERY, responses=RESULTS, errors=(503,),
          summary="Search workflows: hard label filters, then semantic + full-text + label ranking")
def search_get(call: Call) -> object:
    ranking = services().search.search(parse_query_params(call.query))
    return search_view(ranking.hits, ranking.confident)


@endpoint(search, PATH, methods=("POST",), body=contracts.SEARCH_REQUEST, responses=RESULTS, errors=(503,),
          summary="Search workflows with the full incident context (business labels included)")
def search_post(call: Call) -> object:
    ranking = services().search.search(parse_body(call.json()))
    return search_view(ranking.hits, ranking.confident)
