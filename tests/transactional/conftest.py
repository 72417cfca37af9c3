import pytest

from tests.transactional.api import openapi_of


@pytest.fixture
def openapi(client):
    """The live OpenAPI document: tests hold every answer of the API to it."""
    return openapi_of(client)
