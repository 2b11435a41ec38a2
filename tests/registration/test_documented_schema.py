"""docs/playbook-schema.md stays true: its example registers, its override rule is what registration does,
and its field table names exactly the fields the catalog accepts."""

from __future__ import annotations

import json
import re
from pathlib import Path

from chalicelib.services.registration import SCHEMA_FIELDS
from tests.support import oci
from tests.support.registrations import READ, register
from tests.support.resources import rw

DOC = (Path(__file__).resolve().parents[2] / "docs" / "playbook-schema.md").read_text()


def documented_example() -> dict:
    return json.loads(DOC.split("```json\n", 1)[1].split("```", 1)[0])


def test_the_example_is_the_one_the_image_builder_makes():
    assert documented_example() == oci.playbook_schema()


def test_the_field_table_names_the_accepted_fields():
    table = DOC.split("## Fields", 1)[1].split("\n\n", 2)[1]
    assert set(re.findall(r"^\| `(\w+)` \|", table, re.MULTILINE)) == SCHEMA_FIELDS


def test_the_example_registers_and_the_resource_overrides_it_key_by_key(client, push):
    document = documented_example()
    document["labels"]["business_category"] = "payments"
    reference, digest = push(document)
    resource_labels = {"signal_type": "OOMKilled", "severity": ["critical", "high"], "environment": ["production"],
                       "component": "deployment", "priority": "P1"}
    _, done = register(client, rw(reference, labels=resource_labels, description="Set by the resource."))
    assert done["status"] == "succeeded", done
    version = client.get("/api/v1/playbooks/oomkill-increase-memory/versions/1.0.0", scopes=READ).json
    assert version["labels"] == {**resource_labels, "business_category": "payments"}
    assert version["title"] == document["title"]  # the resource sets none: the file's
    assert version["description"] == "Set by the resource."
    assert version["parameters"] == document["parameters"]
    assert version["container_image"] == f"{reference}@{digest}"
