"""GraphQL documents and a served reference shop shared by the connector and mapping tests."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import pytest

from tests.conftest import GraphQLClient
from tests.emulators import serve
from tests.emulators.custom_http_shop import CustomHttpShop

SECRET = "shop-signing-secret-7f3a9c2e51"
API_KEY = "shop-api-key-0b8d4e6f"

CONNECTOR_FIELDS = """
  id code name channelType status statusReason webhookPath supportedLocales storeName
  settings {
    scope localeMapping { pimLocale channelLocale } defaultSyncType conflictStrategy taxConfig currency
    syncIntervalMinutes fallbackPolicy holdIncompleteLocales requestsPerSecond
  }
"""
CREATE_CONNECTOR = f"""
mutation($input: CreateConnectorInput!) {{
  createConnector(input: $input) {{
    connector {{ {CONNECTOR_FIELDS} }}
    testResult {{ success message channelInfo {{ storeName supportedLocales productCount }} }}
    userErrors {{ field message code }}
  }}
}}"""
UPDATE_CONNECTOR = f"""
mutation($code: String!, $input: UpdateConnectorInput!) {{
  updateConnector(code: $code, input: $input) {{
    connector {{ {CONNECTOR_FIELDS} }}
    testResult {{ success message }}
    userErrors {{ field message code }}
  }}
}}"""
CONNECTOR = f"""query($code: String!) {{ connector(code: $code) {{ {CONNECTOR_FIELDS} }} }}"""
SAVE_MAPPINGS = """
mutation($code: String!, $mappings: [FieldMappingInput!]!) {
  saveMappings(connectorCode: $code, mappings: $mappings) {
    mappings { id attributeCode channelField direction transformation localeMapping { pimLocale channelLocale } whenEmpty broken }
    userErrors { field message code }
  }
}"""
PREVIEW = """
query($code: String!, $sku: String!, $locales: [String!]) {
  exportPreview(connectorCode: $code, sku: $sku, locales: $locales) {
    sku channelLocale pimLocale fields sources willSend problems { field message code }
  }
}"""


@dataclass
class ServedShop:
    shop: CustomHttpShop
    base_url: str

    def credentials(self, **overrides: Any) -> dict[str, Any]:
        return {"baseUrl": self.base_url, "signingSecret": SECRET, "apiKey": API_KEY, **overrides}


@contextmanager
def serving_shop() -> Iterator[ServedShop]:
    """A reference shop (en, ar, fr) served on a loopback port while the block runs."""
    shop = CustomHttpShop(signing_secret=SECRET, api_key=API_KEY, supported_locales=("en", "ar", "fr"))
    with serve(shop.app) as origin:
        yield ServedShop(shop, origin + shop.base_path)


@pytest.fixture
def served_shop() -> Iterator[ServedShop]:
    with serving_shop() as shop:
        yield shop


def connector_input(shop: ServedShop, code: str = "shop", **settings: Any) -> dict[str, Any]:
    base_settings: dict[str, Any] = {
        "scope": "ecommerce",
        "currency": "EUR",
        "localeMapping": [
            {"pimLocale": "en_US", "channelLocale": "en"},
            {"pimLocale": "ar_AE", "channelLocale": "ar"},
            {"pimLocale": "fr_FR", "channelLocale": "fr"},
        ],
    }
    return {
        "code": code,
        "name": "Reference shop",
        "channelType": "CUSTOM_HTTP",
        "credentials": shop.credentials(),
        "settings": {**base_settings, **settings},
    }


async def create_connector(gql: GraphQLClient, shop: ServedShop, code: str = "shop", **settings: Any) -> dict[str, Any]:
    payload = (await gql(CREATE_CONNECTOR, {"input": connector_input(shop, code, **settings)}))["createConnector"]
    assert payload["userErrors"] == [], payload["userErrors"]
    return dict(payload)
