"""The searches the README and the `make run` banner show answer what they promise on a fresh catalog.

A fresh catalog is what `make run` loads (examples/workflows, then the composite of examples/composites,
which runs oomkill-increase-memory as its first step). The composite and its own step share the words of
an OOMKilled alert; they are one family, not rivals (chalicelib/domain/confidence.py), so the search is
confident and shows the workflow the README reads next.
"""

from __future__ import annotations

import re

from chalicelib import cli
from tests.support.api import ApiClient
from tests.support.paths import ROOT

SHOWN = "oomkill-increase-memory"


def readme_searches() -> list[str]:
    """The query strings of the README's example searches (the "Try the API" commands)."""
    return re.findall(r"/api/v1/playbooks/search\?([^\"' ]+)[\"']", (ROOT / "README.md").read_text())


def test_the_readme_and_banner_searches_are_confident_with_the_workflow_they_show(client: ApiClient) -> None:
    cli.cmd_load_examples(None)  # type: ignore[arg-type]
    searches = [*readme_searches(), cli.SHOWCASE_SEARCH]
    assert len(searches) >= 2 and "query=pod+OOMKilled&environment=production" in searches
    for search in searches:
        answer = client.get(f"/api/v1/playbooks/search?{search}", scopes=("catalog:read",)).json
        assert answer["confident"] is True, (search, answer["results"][:2])
        assert answer["results"][0]["workflow_id"] == SHOWN, search
        # The composite that runs it is there too, just below: it stands apart, it does not compete.
        assert answer["results"][1]["workflow_id"] == "oomkill-raise-memory-and-restart"
    assert f"/api/v1/playbooks/{SHOWN}" in (ROOT / "README.md").read_text()  # the README reads it next
