"""Bearer tokens on every GraphQL operation: 401 without one, FORBIDDEN without the scope, tenants apart."""

from __future__ import annotations

import httpx

from app.db.engine import Database
from app.domain.scopes import Scope
from app.services.tokens import TokenService
from tests.catalog_fixtures import PRODUCT, SET_LOCALES, set_up_catalog, upsert, value
from tests.conftest import GraphQLClient, TenantHandle, make_tenant

LOCALES = "{ locales { code enabled } }"


async def test_no_token_is_401_with_unauthenticated_code(client: httpx.AsyncClient) -> None:
    response = await client.post("/graphql", json={"query": LOCALES})
    assert response.status_code == 401
    assert response.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    assert response.headers["www-authenticate"].startswith("Bearer")


async def test_unknown_token_is_401(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/graphql", json={"query": LOCALES}, headers={"Authorization": "Bearer pim_not-a-real-token"}
    )
    assert response.status_code == 401
    assert response.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


async def test_revoked_token_stops_working(gql: GraphQLClient, db: Database, tenant: TenantHandle) -> None:
    assert (await gql.raw(LOCALES)).status_code == 200
    async with db.transaction() as session:
        service = TokenService(session)
        [token] = await service.list(tenant_code=tenant.code)
        await service.revoke(tenant_code=tenant.code, token_id=token.id)
    assert (await gql.raw(LOCALES)).status_code == 401


async def test_missing_scope_is_forbidden_and_changes_nothing(
    gql: GraphQLClient, db: Database, tenant: TenantHandle
) -> None:
    async with db.transaction() as session:
        issued = await TokenService(session).issue(tenant_code=tenant.code, scopes=[Scope.CATALOG_VIEW], name="ro")
    errors = await gql.errors(SET_LOCALES, {"codes": ["fr_FR"]}, token=issued.secret)
    assert errors[0]["extensions"]["code"] == "FORBIDDEN"
    assert "catalog.edit" in errors[0]["message"]
    assert (await gql(LOCALES))["locales"] == []


async def test_view_scope_is_needed_to_read(gql: GraphQLClient, db: Database, tenant: TenantHandle) -> None:
    async with db.transaction() as session:
        issued = await TokenService(session).issue(tenant_code=tenant.code, scopes=[Scope.SYNC_VIEW], name="sync")
    errors = await gql.errors(LOCALES, token=issued.secret)
    assert errors[0]["extensions"]["code"] == "FORBIDDEN"


async def test_another_tenants_product_reads_as_not_found(
    gql: GraphQLClient, client: httpx.AsyncClient, db: Database
) -> None:
    await set_up_catalog(gql)
    created = await upsert(gql, {"sku": "SECRET-1", "values": [value("name", "Hidden", "en_US")]})
    product_id = created["products"][0]["id"]
    other = GraphQLClient(client, (await make_tenant(db)).token)
    await set_up_catalog(other)
    assert (await other(PRODUCT, {"sku": "SECRET-1"}))["product"] is None
    assert (await other("query($id: ID!) { node(id: $id) { id } }", {"id": product_id}))["node"] is None
    assert (await other("{ products { totalCount } }"))["products"]["totalCount"] == 0
    deleted = await other('mutation { deleteProducts(skus: ["SECRET-1"]) { deletedSkus userErrors { code } } }')
    assert deleted["deleteProducts"]["userErrors"][0]["code"] == "CAT-012"
    assert (await gql(PRODUCT, {"sku": "SECRET-1"}))["product"]["sku"] == "SECRET-1"


async def test_same_sku_in_two_tenants_are_two_products(
    gql: GraphQLClient, client: httpx.AsyncClient, db: Database
) -> None:
    other = GraphQLClient(client, (await make_tenant(db)).token)
    for side, name in ((gql, "Ours"), (other, "Theirs")):
        await set_up_catalog(side)
        await upsert(side, {"sku": "SHARED", "values": [value("name", name, "en_US")]})
    ours = await gql('{ product(sku: "SHARED") { value(attribute: "name", locale: "en_US") } }')
    theirs = await other('{ product(sku: "SHARED") { value(attribute: "name", locale: "en_US") } }')
    assert (ours["product"]["value"], theirs["product"]["value"]) == ("Ours", "Theirs")
