"""The committed OpenAPI document is the one the models build (regenerate with
``python -m service.api.openapi``)."""

from service.api.openapi import OPENAPI_PATH, render


def test_committed_openapi_matches_the_models() -> None:
    assert OPENAPI_PATH.read_text(encoding="utf-8") == render()


def test_the_document_describes_itself_and_what_the_service_refuses() -> None:
    """Issue 12: ``/openapi.json`` is in its own paths, and every text of the payload says the
    service refuses NUL, so a schema-driven client (schemathesis) and the service agree."""
    import json

    from service.domain.alerts import NO_NUL

    doc = json.loads(render())
    assert set(doc["paths"]) >= {"/openapi.json", "/webhook", "/incidents"}
    schemas = doc["components"]["schemas"]
    notification, alert = schemas["Notification"]["properties"], schemas["Alert"]["properties"]
    for field in ("groupKey", "receiver", "externalURL"):
        assert notification[field]["pattern"] == NO_NUL, field
    for labels in (notification["groupLabels"], alert["labels"], alert["annotations"]):
        assert labels["propertyNames"] == {"pattern": NO_NUL}
        assert labels["additionalProperties"]["pattern"] == NO_NUL
    assert notification["truncatedAlerts"]["maximum"] == 2**31 - 1
    params = {p["name"]: p for p in doc["paths"]["/incidents"]["get"]["parameters"]}
    assert "pattern" in params["before"]["schema"]
