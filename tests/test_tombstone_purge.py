"""Deleted products' tombstones go with the sync history: the hourly purge deletes one deleted longer ago than
PIMSYNC_HISTORY_RETENTION_DAYS once no channel still holds the product (no listing keeps an external id for it) and
no conflict names it. One a channel still holds stays, whatever its age, until a sync has deleted it there."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select

from app.container import Container
from app.db.engine import Database
from app.db.models import Conflict, Connector, Product
from app.domain.catalog import CatalogSpec
from app.domain.products import ProductDraft
from app.services.products import ProductService
from app.services.retention import Purged
from tests.catalog_fixtures import DELETE_PRODUCTS, UPSERT_PRODUCTS
from tests.conftest import GraphQLClient, TenantHandle, make_tenant
from tests.connector_fixtures import ServedShop, served_shop
from tests.sync_fixtures import PRODUCTS, chair, run_here, shop_sync, sku
from tests.test_sync_history import days_later
from workers.tasks.maintenance import purge_history

__all__ = ["served_shop", "shop_sync"]


async def purge(container: Container, days: float, **settings: Any) -> Purged:
    """The hourly purge as a worker would run it `days` from now. It purges every tenant's tombstones, and the tests
    share a database: what went is read per tenant, not from its count."""
    return await purge_history({"container": days_later(container, days, **settings)})


async def tombstones(db: Database, tenant_id: int) -> set[str]:
    async with db.reader() as session:
        found = await session.scalars(
            select(Product.sku).where(Product.tenant_id == tenant_id, Product.deleted_at.is_not(None))
        )
        return set(found)


async def live(db: Database, tenant_id: int) -> int:
    async with db.reader() as session:
        statement = select(func.count()).where(Product.tenant_id == tenant_id, Product.deleted_at.is_(None))
        return int(await session.scalar(statement) or 0)


async def delete(gql: GraphQLClient, *skus: str) -> None:
    assert (await gql(DELETE_PRODUCTS, {"skus": list(skus)}))["deleteProducts"]["userErrors"] == []


async def upsert_one(gql: GraphQLClient, product: dict[str, object]) -> str:
    payload = (await gql(UPSERT_PRODUCTS, {"products": [product]}))["upsertProducts"]
    assert payload["userErrors"] == []
    return str(payload["products"][0]["id"])


async def test_a_tombstone_goes_past_the_retention_once_no_channel_holds_its_product(
    shop_sync: GraphQLClient, served_shop: ServedShop, container: Container, db: Database, tenant: TenantHandle
) -> None:
    """A product deleted before any sync sent it needs its tombstone for nothing: it goes past 90 days. One the shop
    still has stays, whatever its age, until an INCREMENTAL sync has deleted it there (its cursor behind the
    deletion, as a connector paused since would have it); then it goes too. Live products never go. The id of the
    newest product, purged, is not given to the next one created: a client may still hold it."""
    await run_here(shop_sync, container, syncType="FULL")
    never_sent = await upsert_one(shop_sync, {"sku": "NEVER-SENT", "values": []})
    await delete(shop_sync, sku(1), "NEVER-SENT")

    await purge(container, 89)
    assert await tombstones(db, tenant.id) == {sku(1), "NEVER-SENT"}
    assert (await purge(container, 91)).tombstones >= 1
    assert await tombstones(db, tenant.id) == {sku(1)}
    assert sku(1) in served_shop.shop.products
    assert await upsert_one(shop_sync, {"sku": "NEXT", "values": []}) != never_sent

    await run_here(shop_sync, container, syncType="INCREMENTAL")
    assert sku(1) not in served_shop.shop.products
    await purge(container, 89)
    assert await tombstones(db, tenant.id) == {sku(1)}
    await purge(container, 91)
    assert await tombstones(db, tenant.id) == set()
    assert await live(db, tenant.id) == PRODUCTS


async def test_a_product_created_again_after_its_tombstone_went_is_a_new_product_sent_again(
    shop_sync: GraphQLClient, served_shop: ServedShop, container: Container, db: Database, tenant: TenantHandle
) -> None:
    """The SKU is free once its tombstone went: creating it again makes a new product (a new id, so a client holding
    the old one's id does not reach it), and the next INCREMENTAL sync puts it on the shop again."""
    await run_here(shop_sync, container, syncType="FULL")
    old_id = await upsert_one(shop_sync, chair(1))
    await delete(shop_sync, sku(1))
    await run_here(shop_sync, container, syncType="INCREMENTAL")
    await purge(container, 91)
    assert await tombstones(db, tenant.id) == set()

    new_id = await upsert_one(shop_sync, chair(1))
    assert new_id != old_id
    job = await run_here(shop_sync, container, syncType="INCREMENTAL")
    assert (job["status"], job["syncedProducts"]) == ("COMPLETED", 1)
    assert sku(1) in served_shop.shop.products


async def test_a_tombstone_a_conflict_names_stays_and_other_tenants_tombstones_go_on_their_own(
    shop_sync: GraphQLClient, container: Container, db: Database, tenant: TenantHandle
) -> None:
    """A conflict on a product deleted since is a person's open item (or, decided, their record): the tombstone stays
    while the conflict does, or the conflict would go with it. Another tenant's tombstone of the same SKU, which
    nothing names, goes on its own; its live products stay."""
    await delete(shop_sync, sku(2))
    async with db.transaction() as session:
        connector = await session.scalar(select(Connector.id).where(Connector.tenant_id == tenant.id))
        product = await session.scalar(select(Product.id).where(Product.tenant_id == tenant.id, Product.sku == sku(2)))
        assert connector is not None and product is not None
        session.add(
            Conflict(
                tenant_id=tenant.id,
                connector_id=connector,
                product_id=product,
                product_sku=sku(2),
                conflict_type="deleted_on_channel",
                resolution_status="PENDING",
                fields=[],
                version=1,
            )
        )
    other = await make_tenant(db)
    async with db.transaction() as session:
        service = ProductService(session)
        await service.upsert(other.id, [ProductDraft(sku=sku(2)), ProductDraft(sku="KEPT")], CatalogSpec())
        await service.delete(other.id, [sku(2)])

    await purge(container, 89)
    assert await tombstones(db, other.id) == {sku(2)}
    await purge(container, 91)
    assert await tombstones(db, tenant.id) == {sku(2)}
    assert await tombstones(db, other.id) == set()
    assert await live(db, other.id) == 1
    assert await live(db, tenant.id) == PRODUCTS - 1


async def test_a_history_retention_of_zero_keeps_tombstones_for_ever(
    shop_sync: GraphQLClient, container: Container, db: Database, tenant: TenantHandle
) -> None:
    await delete(shop_sync, sku(3))
    await purge(container, 10_000, history_retention_days=0)
    assert await tombstones(db, tenant.id) == {sku(3)}
