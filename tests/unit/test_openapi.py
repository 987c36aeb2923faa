"""The committed OpenAPI document is the one the models build (regenerate with
``python -m service.api.openapi``)."""

from service.api.openapi import OPENAPI_PATH, render


def test_committed_openapi_matches_the_models() -> None:
    assert OPENAPI_PATH.read_text(encoding="utf-8") == render()
