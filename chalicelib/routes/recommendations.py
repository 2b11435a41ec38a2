"""Routes of recommendations (README, "Recommendations"): parse -> RecommendationService -> respond.

Agents post what the catalog lacks; operators list, accept (linking the workflow they registered)
or dismiss. Nothing here creates a workflow.
"""

from __future__ import annotations

from typing import Any

from chalice import Blueprint

from chalicelib.container import services
from chalicelib.domain import contracts
from chalicelib.domain.recommendations import Decision, parse_new_recommendation
from chalicelib.http.endpoint import Call, endpoint, json_response
from chalicelib.http.paging import page_body
from chalicelib.http.views import recommendation_detail_view, recommendation_view
from chalicelib.services.recommendations import Recommendation

recommendations = Blueprint(__name__)
BASE = "/api/v1/recommendations"
DETAIL = {200: ("The recommendation, its newest incidents and its status changes", "RecommendationDetail")}


@endpoint(recommendations, BASE, methods=("POST",), scope="recommendations:write", body=contracts.NEW_RECOMMENDATION,
          summary="Recommend a workflow the catalog lacks (repeats of an open one are counted on it)",
          description="A post that repeats an open recommendation (same signal_type and component, a summary "
                      "saying the same thing) answers 200 with it, occurrences + 1 and the incident added; the "
                      "same incident again counts once. Nothing is created automatically.",
          responses={201: ("Recorded as a new open recommendation", "RecommendationDetail"),
                     200: ("Counted on the open recommendation it repeats", "RecommendationDetail")})
def create_recommendation(call: Call) -> object:
    posted = services().recommendations.recommend(parse_new_recommendation(call.json()), call.actor)
    return json_response(_detail(posted.recommendation), status=201 if posted.created else 200)


@endpoint(recommendations, BASE, query=contracts.RECOMMENDATIONS_QUERY,
          summary="Recommendations with a status (default open), most occurrences first",
          responses={200: ("A page of recommendations", "RecommendationPage")})
def list_recommendations(call: Call) -> object:
    result = services().recommendations.list_page(call.query["status"], call.query["limit"], call.query.get("cursor"))
    return page_body(result, recommendation_view)


@endpoint(recommendations, BASE + "/{recommendation_id}", summary="One recommendation", responses=DETAIL,
          errors=(404,))
def get_recommendation(call: Call, recommendation_id: str) -> object:
    return _detail(services().recommendations.get(recommendation_id))


@endpoint(recommendations, BASE + "/{recommendation_id}", methods=("PATCH",), scope="catalog:write",
          body=contracts.RECOMMENDATION_DECISION,
          summary="Accept (linking a registered workflow) or dismiss an open recommendation, with a reason",
          description="409 invalid-transition once decided; other fields are 409 immutable-field. Accepting "
                      "needs workflow_id of a workflow in the catalog (400 otherwise).",
          responses=DETAIL, errors=(404, 409))
def decide_recommendation(call: Call, recommendation_id: str) -> object:
    decision = Decision.from_body(call.json())
    return _detail(services().recommendations.decide(recommendation_id, decision, call.actor))


def _detail(recommendation: Recommendation) -> dict[str, Any]:
    return recommendation_detail_view(recommendation.row, recommendation.incidents, recommendation.events)
