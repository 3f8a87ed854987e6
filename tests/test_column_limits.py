"""Limits stated as numbers where the models may not be imported (app/domain, app/channels) are no larger than the
columns they feed: a value they let through must fit, or PostgreSQL refuses it where SQLite stores it whole."""

from __future__ import annotations

import pytest
from sqlalchemy.orm import InstrumentedAttribute

from app.channels.webhooks import MAX_DELIVERY_ID_LENGTH
from app.channels.woocommerce.webhooks import BODY_DIGEST_LENGTH
from app.db.models import (
    Attribute,
    Conflict,
    Connector,
    FieldMapping,
    Product,
    ProductValue,
    Scope,
    SyncJobChange,
    SyncJobError,
    WebhookDelivery,
)
from app.domain.catalog import is_valid_code, is_valid_sku


def _length(column: InstrumentedAttribute[str] | InstrumentedAttribute[str | None]) -> int:
    length = getattr(column.type, "length", None)
    assert isinstance(length, int), f"{column} has no length"
    return length


@pytest.mark.parametrize(
    "column",
    [Attribute.code, Scope.code, Connector.code, Product.family, FieldMapping.attribute_code, ProductValue.scope],
)
def test_every_code_the_code_check_accepts_fits_its_column(column: InstrumentedAttribute[str]) -> None:
    assert not is_valid_code("c" * (_length(column) + 1))


@pytest.mark.parametrize(
    "column", [Product.sku, Product.parent, SyncJobError.product_sku, SyncJobChange.product_sku, Conflict.product_sku]
)
def test_every_sku_the_sku_check_accepts_fits_its_column(column: InstrumentedAttribute[str]) -> None:
    assert not is_valid_sku("s" * (_length(column) + 1))


def test_the_longest_delivery_id_accepted_fits_with_woocommerce_s_suffix() -> None:
    assert MAX_DELIVERY_ID_LENGTH + len(":") + BODY_DIGEST_LENGTH <= _length(WebhookDelivery.delivery_id)


def test_values_a_sync_imports_are_signed_with_a_connector_code_that_fits() -> None:
    longest_code = next(n for n in range(200, 0, -1) if is_valid_code("c" * n))
    assert len(f"channel:{'c' * longest_code}") <= _length(ProductValue.updated_by)
