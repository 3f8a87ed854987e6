"""Tenants apart on every root field: another tenant's object, named by its id, code or SKU, reads and acts as
one that does not exist, and the same codes and SKUs in two tenants are two objects.

The owner has a catalog, connectors, jobs and a conflict whose texts carry OWNER_MARK; the stranger has the
same attribute codes, the SKU SHARED-1 and the connector code store_x too. For each root field the stranger's
token asks for the owner's objects and for objects that exist nowhere: the two answers must be the same (no
existence oracle), and the owner's data must read exactly as before. It then asks with the shared codes: the
answer must carry nothing of the owner's. A root field added without a probe fails
`test_every_root_field_is_probed`, so a new field is checked from the day it lands.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, fields
from typing import Any

import httpx
import pytest
from graphql import ExecutionResult

from app.container import Container
from app.db.engine import Database
from app.db.models import Conflict, SyncJob, SyncJobChange, SyncJobError
from app.repositories.connectors import ConnectorRepository
from app.repositories.products import ProductRepository
from app.services.conflicts import notify
from app.services.conflicts.notify import publish_conflict
from app.services.tokens import TokenService
from app.settings import Settings
from graphql_schema import build_schema
from graphql_schema.context import Context
from graphql_schema.relay import MAX_PRIMARY_KEY, global_id, parse_global_id
from tests.catalog_fixtures import set_up_catalog, upsert, value
from tests.conflict_fixtures import diff, title
from tests.conftest import (
    GraphQLClient,
    TenantHandle,
    api_client,
    container_on,
    make_tenant,
    retire_connectors,
    until_subscribed,
)
from tests.connector_fixtures import SAVE_MAPPINGS, ServedShop, create_connector, served_shop, serving_shop
from tests.sync_fixtures import run_here, trigger

__all__ = ["served_shop"]

OWNER_MARK = "OWNER-SECRET"
"""In every text of the owner's: a stranger's answer holding it shows the owner's data."""
SHARED_SKU = "SHARED-1"
SHARED_CONNECTOR = "store_x"
MAPPINGS = [{"attributeCode": "name", "channelField": "title", "direction": "EXPORT"}]


@dataclass(frozen=True)
class Names:
    """What a probe names: SKUs and codes, and the global ids of jobs, conflicts, products and connectors."""

    sku: str
    connector: str
    pending_job: str
    finished_job: str
    conflict: str
    product_node: str
    connector_node: str

    def placeholders(self, text: str) -> str:
        """`text` with each name replaced by its field's name: an error may echo what was asked, not more.

        Whole names only: SyncJob 1's id (U3luY0pvYjox) begins SyncJob 12's (U3luY0pvYjoxMg==), and replacing it
        inside the caller's own job id made an answer that names that job differ from the missing name's answer
        whenever the owner's ids were that small (a fresh database, the first module it serves)."""
        for item in sorted(fields(self), key=lambda f: -len(str(getattr(self, f.name)))):
            whole = rf"(?<![\w+/=-]){re.escape(str(getattr(self, item.name)))}(?![\w+/=-])"
            text = re.sub(whole, f"<{item.name}>", text)
        return text


MISSING = Names(
    sku="NOPE-1",
    connector="nope_connector",
    pending_job=str(global_id("SyncJob", MAX_PRIMARY_KEY)),
    finished_job=str(global_id("SyncJob", MAX_PRIMARY_KEY - 1)),
    conflict=str(global_id("Conflict", MAX_PRIMARY_KEY)),
    product_node=str(global_id("Product", MAX_PRIMARY_KEY)),
    connector_node=str(global_id("Connector", MAX_PRIMARY_KEY)),
)


@dataclass(frozen=True)
class Probe:
    document: str
    variables: Callable[[Names], dict[str, Any]]


def _none(_: Names) -> dict[str, Any]:
    return {}


ERRORS = "userErrors { field message code }"
JOB = """id status syncType totalProducts failedProducts retryOf queuePosition failure locales
  connector { id code name }
  errors(first: 10) { totalCount edges { node { productSku errorCode message } } }
  changes(first: 10) { totalCount edges { node { productSku action fields { field before after } } } }"""
CONFLICT = """id productSku resolutionStatus version resolvedBy connector { id code name }
  fields { field diffs { pimValue channelValue baseValue } }"""
CONNECTOR = f"""id code name status statusReason webhookPath storeName pendingConflictCount
  settings {{ scope currency }} mappings {{ id attributeCode channelField broken }}
  lastJob {{ id status }} localeSyncStatus {{ channelLocale status }}
  syncJobs(first: 10) {{ totalCount edges {{ node {{ {JOB} }} }} }}
  conflicts(first: 10) {{ totalCount edges {{ node {{ {CONFLICT} }} }} }}"""
PRODUCT = f"""id sku revision values {{ attribute locale data }} value(attribute: "name", locale: "en_US")
  listings {{ status externalId connector {{ {CONNECTOR} }} }}"""
CONNECTOR_PAYLOAD = f"connector {{ {CONNECTOR} }} testResult {{ success message }} {ERRORS}"
JOB_PAYLOAD = f"syncJob {{ {JOB} }} estimatedProducts {ERRORS}"

PROBES: dict[str, Probe] = {
    # -- queries
    "node": Probe(
        f"""query($p: ID!, $c: ID!, $j: ID!, $f: ID!, $k: ID!) {{
          p: node(id: $p) {{ id ... on Product {{ {PRODUCT} }} }}
          c: node(id: $c) {{ id ... on Connector {{ {CONNECTOR} }} }}
          j: node(id: $j) {{ id ... on SyncJob {{ {JOB} }} }}
          f: node(id: $f) {{ id ... on SyncJob {{ {JOB} }} }}
          k: node(id: $k) {{ id ... on Conflict {{ {CONFLICT} }} }}
        }}""",
        lambda n: {
            "p": n.product_node,
            "c": n.connector_node,
            "j": n.pending_job,
            "f": n.finished_job,
            "k": n.conflict,
        },
    ),
    "locales": Probe("{ locales { code enabled } }", _none),
    "scopes": Probe("{ scopes { code labels enabled } }", _none),
    "currencies": Probe("{ currencies { code enabled } }", _none),
    "attributes": Probe("{ attributes { code type labels } }", _none),
    "products": Probe(
        f"""query($sku: String!) {{
          all: products(first: 50) {{ totalCount edges {{ cursor node {{ {PRODUCT} }} }} }}
          found: products(search: $sku) {{ totalCount edges {{ node {{ id sku }} }} }}
          secret: products(search: "{OWNER_MARK}") {{ totalCount edges {{ node {{ id sku }} }} }}
        }}""",
        lambda n: {"sku": n.sku},
    ),
    "product": Probe(f"query($sku: String!) {{ product(sku: $sku) {{ {PRODUCT} }} }}", lambda n: {"sku": n.sku}),
    "channelTypes": Probe("{ channelTypes { type displayName } }", _none),
    "connectors": Probe(f"{{ connectors(first: 50) {{ totalCount edges {{ node {{ {CONNECTOR} }} }} }} }}", _none),
    "connector": Probe(
        f"query($code: String!) {{ connector(code: $code) {{ {CONNECTOR} }} }}", lambda n: {"code": n.connector}
    ),
    "exportPreview": Probe(
        """query($code: String!, $sku: String!) {
          exportPreview(connectorCode: $code, sku: $sku) { sku channelLocale fields sources problems { code } }
          own: exportPreview(connectorCode: "store_x", sku: $sku) { sku fields }
        }""",
        lambda n: {"code": n.connector, "sku": n.sku},
    ),
    "syncJobs": Probe(
        f"""query($code: String!) {{
          all: syncJobs(first: 50) {{ totalCount edges {{ node {{ {JOB} }} }} }}
          one: syncJobs(connectorCode: $code) {{ totalCount edges {{ node {{ id }} }} }}
        }}""",
        lambda n: {"code": n.connector},
    ),
    "syncJob": Probe(
        f"""query($p: ID!, $f: ID!) {{ p: syncJob(id: $p) {{ {JOB} }} f: syncJob(id: $f) {{ {JOB} }} }}""",
        lambda n: {"p": n.pending_job, "f": n.finished_job},
    ),
    "conflicts": Probe(
        f"""query($code: String!, $sku: String!) {{
          all: conflicts(first: 50) {{ totalCount edges {{ node {{ {CONFLICT} }} }} }}
          one: conflicts(connectorCode: $code) {{ totalCount edges {{ node {{ id }} }} }}
          sku: conflicts(productSku: $sku) {{ totalCount edges {{ node {{ id }} }} }}
        }}""",
        lambda n: {"code": n.connector, "sku": n.sku},
    ),
    "conflict": Probe(f"query($id: ID!) {{ conflict(id: $id) {{ {CONFLICT} }} }}", lambda n: {"id": n.conflict}),
    # -- mutations
    "setLocales": Probe(
        f"""mutation {{ setLocales(codes: ["en_US", "ar_AE", "ar", "fr_FR"]) {{ locales {{ code }} {ERRORS} }} }}""",
        _none,
    ),
    "setScopes": Probe(
        f"""mutation {{ setScopes(scopes: [{{code: "ecommerce"}}, {{code: "print"}}]) {{
          scopes {{ code labels }} {ERRORS} }} }}""",
        _none,
    ),
    "setCurrencies": Probe(
        f"""mutation {{ setCurrencies(codes: ["EUR", "USD", "AED"]) {{ currencies {{ code }} {ERRORS} }} }}""", _none
    ),
    "upsertAttributes": Probe(
        f"""mutation {{ upsertAttributes(attributes: [{{code: "name", type: TEXT, localizable: true}}]) {{
          attributes {{ code labels }} {ERRORS} }} }}""",
        _none,
    ),
    "deleteAttributes": Probe(
        f"""mutation {{ deleteAttributes(codes: ["colors"]) {{ deletedCodes {ERRORS} }} }}""", _none
    ),
    "upsertProducts": Probe(
        f"""mutation($sku: String!) {{
          upsertProducts(products: [{{sku: $sku, values: [{{attribute: "stock", data: 3}}]}}]) {{
            products {{ {PRODUCT} }} {ERRORS}
          }}
        }}""",
        lambda n: {"sku": n.sku},
    ),
    "deleteProducts": Probe(
        f"mutation($sku: String!) {{ deleteProducts(skus: [$sku]) {{ deletedSkus {ERRORS} }} }}",
        lambda n: {"sku": n.sku},
    ),
    "createConnector": Probe(
        f"""mutation($code: String!, $credentials: JSON!) {{
          createConnector(input: {{code: $code, name: "Mine", channelType: CUSTOM_HTTP, credentials: $credentials}}) {{
            {CONNECTOR_PAYLOAD}
          }}
        }}""",
        lambda n: {"code": n.connector},
    ),
    "updateConnector": Probe(
        f"""mutation($code: String!) {{
          updateConnector(code: $code, input: {{name: "Renamed", settings: {{currency: "USD"}}}}) {{
            {CONNECTOR_PAYLOAD}
          }}
        }}""",
        lambda n: {"code": n.connector},
    ),
    "deleteConnector": Probe(
        f"mutation($code: String!) {{ deleteConnector(code: $code) {{ deletedId {ERRORS} }} }}",
        lambda n: {"code": n.connector},
    ),
    "testConnection": Probe(
        f"mutation($code: String!) {{ testConnection(code: $code) {{ testResult {{ success message }} {ERRORS} }} }}",
        lambda n: {"code": n.connector},
    ),
    "pauseConnector": Probe(
        f'mutation($code: String!) {{ pauseConnector(code: $code, reason: "mine") {{ {CONNECTOR_PAYLOAD} }} }}',
        lambda n: {"code": n.connector},
    ),
    "resumeConnector": Probe(
        f"mutation($code: String!) {{ resumeConnector(code: $code) {{ {CONNECTOR_PAYLOAD} }} }}",
        lambda n: {"code": n.connector},
    ),
    "saveMappings": Probe(
        f"""mutation($code: String!) {{
          saveMappings(connectorCode: $code, mappings: [{{attributeCode: "name", channelField: "title",
                                                          direction: EXPORT}}]) {{
            mappings {{ id attributeCode broken }} {ERRORS}
          }}
        }}""",
        lambda n: {"code": n.connector},
    ),
    "triggerSync": Probe(
        f"""mutation($code: String!, $sku: String!) {{
          single: triggerSync(connectorCode: $code, input: {{syncType: SINGLE, productSkus: [$sku], dryRun: true}}) {{
            {JOB_PAYLOAD}
          }}
          own: triggerSync(connectorCode: "{SHARED_CONNECTOR}", input: {{syncType: SINGLE, productSkus: [$sku]}}) {{
            {JOB_PAYLOAD}
          }}
        }}""",
        lambda n: {"code": n.connector, "sku": n.sku},
    ),
    "cancelSyncJob": Probe(
        f"mutation($id: ID!) {{ cancelSyncJob(id: $id) {{ {JOB_PAYLOAD} }} }}", lambda n: {"id": n.pending_job}
    ),
    "retrySyncJob": Probe(
        f"mutation($id: ID!) {{ retrySyncJob(id: $id) {{ {JOB_PAYLOAD} }} }}", lambda n: {"id": n.finished_job}
    ),
    "resolveConflict": Probe(
        f"""mutation($id: ID!) {{
          resolveConflict(id: $id, input: {{resolution: PIM_WINS}}) {{ conflict {{ {CONFLICT} }} {ERRORS} }}
        }}""",
        lambda n: {"id": n.conflict},
    ),
    "bulkResolveConflicts": Probe(
        f"""mutation($id: ID!, $code: String!, $sku: String!) {{
          ids: bulkResolveConflicts(ids: [$id], resolution: DISMISSED) {{ resolvedCount {ERRORS} }}
          code: bulkResolveConflicts(filter: {{connectorCode: $code}}, resolution: DISMISSED) {{
            resolvedCount {ERRORS}
          }}
          sku: bulkResolveConflicts(filter: {{productSku: $sku}}, resolution: DISMISSED) {{ resolvedCount {ERRORS} }}
        }}""",
        lambda n: {"id": n.conflict, "code": n.connector, "sku": n.sku},
    ),
    # -- subscriptions
    "syncJobUpdated": Probe(
        f"subscription($id: ID!) {{ syncJobUpdated(id: $id) {{ {JOB} }} }}", lambda n: {"id": n.pending_job}
    ),
    "conflictDetected": Probe(
        f"subscription($code: String) {{ conflictDetected(connectorCode: $code) {{ {CONFLICT} }} }}",
        lambda n: {"code": n.connector},
    ),
}

OWNER_VIEW = """{
  locales { code enabled } scopes { code labels enabled } currencies { code enabled }
  attributes { code type localizable labels }
  products(first: 50) { totalCount edges { node { id sku enabled revision values { attribute locale data } } } }
  connectors(first: 50) { totalCount edges { node {
    id code name status statusReason settings { scope currency } mappings { id attributeCode channelField }
  } } }
  syncJobs(first: 50) { totalCount edges { node { id status retryOf } } }
  conflicts(first: 50) { totalCount edges { node { id resolutionStatus version resolvedBy } } }
}"""
"""Everything of the owner's that a stranger's call could change."""


def root_fields() -> set[str]:
    schema = build_schema()._schema
    roots = (schema.query_type, schema.mutation_type, schema.subscription_type)
    return {name for root in roots if root is not None for name in root.fields}


@dataclass
class World:
    owner: GraphQLClient
    stranger: GraphQLClient
    owner_tenant: TenantHandle
    stranger_tenant: TenantHandle
    foreign: Names
    """The owner's objects, which the stranger has no namesake of."""
    shared: Names
    """The stranger's own objects: the SKU and connector code the owner has too, the stranger's own ids."""
    owner_ids: list[str]
    """Global ids of the owner's objects: none may appear in the stranger's answers."""
    credentials: dict[str, Any]
    """What a connector to the served shop is created with."""


async def _open_catalog(gql: GraphQLClient, shop: ServedShop, mark: str, skus: tuple[str, ...]) -> None:
    await set_up_catalog(gql)
    products = [{"sku": sku, "values": [value("name", f"{mark} chair {sku}", "en_US")]} for sku in skus]
    assert (await upsert(gql, *products))["userErrors"] == []


async def _seed_jobs(db: Database, tenant_id: int, connector_id: int, product_id: int, mark: str) -> tuple[int, int]:
    """A failed job with one failed product, and a conflict on that product: as a sync would have left them."""
    async with db.transaction() as session:
        job = SyncJob(tenant_id=tenant_id, connector_id=connector_id, sync_type="FULL", status="FAILED")
        job.total_products, job.failed_products, job.failure = 1, 1, None
        session.add(job)
        await session.flush()
        session.add(
            SyncJobError(
                tenant_id=tenant_id,
                job_id=job.id,
                product_sku=SHARED_SKU,
                error_code="CHN-020",
                message=f"{mark} refused",
            )
        )
        session.add(
            SyncJobChange(
                tenant_id=tenant_id,
                job_id=job.id,
                product_sku=SHARED_SKU,
                action="UPDATE",
                fields=[{"field": "title", "before": f"{mark} a", "after": f"{mark} b"}],
            )
        )
        conflict = Conflict(
            tenant_id=tenant_id,
            connector_id=connector_id,
            product_id=product_id,
            product_sku=SHARED_SKU,
            conflict_type="field_mismatch",
            resolution_status="PENDING",
            fields=[title(diff("en_US", "en", f"{mark} base", f"{mark} pim", f"{mark} channel"))],
            version=1,
        )
        session.add(conflict)
        await session.flush()
        return job.id, conflict.id


async def _build(
    db: Database,
    gql: GraphQLClient,
    tenant: TenantHandle,
    shop: ServedShop,
    mark: str,
    connectors: tuple[str, ...],
    skus: tuple[str, ...],
) -> tuple[Names, list[str]]:
    await _open_catalog(gql, shop, mark, skus)
    for code in connectors:
        created = await create_connector(gql, shop, code)
        assert created["connector"]["status"] == "CONNECTED", created
        await gql(
            "mutation($c: String!, $n: String!) { updateConnector(code: $c, input: {name: $n}) { userErrors { code } } }",
            {"c": code, "n": f"{mark} shop {code}"},
        )
        saved = (await gql(SAVE_MAPPINGS, {"code": code, "mappings": MAPPINGS}))["saveMappings"]
        assert saved["userErrors"] == [], saved
    async with db.reader() as session:
        products = await ProductRepository(session).by_skus(tenant.id, skus)
        rows = {code: await ConnectorRepository(session).by_code(tenant.id, code) for code in connectors}
    shared_connector = rows[SHARED_CONNECTOR]
    assert shared_connector is not None
    finished, conflict = await _seed_jobs(db, tenant.id, shared_connector.id, products[SHARED_SKU].id, mark)
    pending_on = connectors[-1]
    pending = (await trigger(gql, pending_on, syncType="INCREMENTAL"))["id"]
    own_sku = skus[-1]
    own_connector = rows[pending_on]
    assert own_connector is not None
    names = Names(
        sku=own_sku,
        connector=pending_on,
        pending_job=pending,
        finished_job=str(global_id("SyncJob", finished)),
        conflict=str(global_id("Conflict", conflict)),
        product_node=str(global_id("Product", products[own_sku].id)),
        connector_node=str(global_id("Connector", own_connector.id)),
    )
    ids = [str(global_id("Product", row.id)) for row in products.values()]
    ids += [str(global_id("Connector", row.id)) for row in rows.values() if row is not None]
    ids += [names.pending_job, names.finished_job, names.conflict]
    return names, ids


@dataclass(frozen=True)
class Side:
    """One tenant's half of a world: its client, its objects' names and their global ids."""

    client: GraphQLClient
    tenant: TenantHandle
    names: Names
    ids: list[str]


async def _owner(db: Database, gql: GraphQLClient, tenant: TenantHandle, shop: ServedShop) -> Side:
    """SHARED-1 and ONLY-A-1, connectors store_x and only_a, a pending job on only_a, a failed job and a pending
    conflict on store_x, every text carrying OWNER_MARK."""
    names, ids = await _build(db, gql, tenant, shop, OWNER_MARK, (SHARED_CONNECTOR, "only_a"), (SHARED_SKU, "ONLY-A-1"))
    return Side(gql, tenant, names, ids)


async def _stranger(db: Database, gql: GraphQLClient, tenant: TenantHandle, shop: ServedShop) -> Side:
    """SHARED-1 and store_x alone, with a pending job, a failed job and a conflict of its own."""
    names, ids = await _build(db, gql, tenant, shop, "Stranger", (SHARED_CONNECTOR,), (SHARED_SKU,))
    return Side(gql, tenant, names, ids)


def _world(owner: Side, stranger: Side, shop: ServedShop) -> World:
    return World(
        owner.client,
        stranger.client,
        owner.tenant,
        stranger.tenant,
        owner.names,
        stranger.names,
        owner.ids,
        shop.credentials(),
    )


@pytest.fixture(scope="module")
async def owner(module_settings: Settings, session_container: Container) -> AsyncIterator[Side]:
    """One owner for the module's probes, per database: a probe only reads the owner's data (each asserts it
    reads exactly as before), and building it was most of the module's time. Its own tenant, client and shop."""
    container = container_on(session_container, module_settings)
    with serving_shop() as shop:
        async with api_client(module_settings, container) as http:
            tenant = await make_tenant(container.db)
            yield await _owner(container.db, GraphQLClient(http, tenant.token), tenant, shop)
            await retire_connectors(container.db, tenant.id)


@pytest.fixture
async def world(owner: Side, gql: GraphQLClient, db: Database, tenant: TenantHandle, served_shop: ServedShop) -> World:
    """The module's owner, and the test's tenant as the stranger: a probe may change the stranger's objects (its
    own SKUs and codes reach them), so each test has a stranger of its own."""
    return _world(owner, await _stranger(db, gql, tenant, served_shop), served_shop)


@pytest.fixture
async def own_world(
    gql: GraphQLClient, client: httpx.AsyncClient, db: Database, tenant: TenantHandle, served_shop: ServedShop
) -> AsyncIterator[World]:
    """A world of the test's own, the owner being the test's tenant: for a test that changes the owner's data."""
    stranger_tenant = await make_tenant(db)
    stranger = await _stranger(db, GraphQLClient(client, stranger_tenant.token), stranger_tenant, served_shop)
    yield _world(await _owner(db, gql, tenant, served_shop), stranger, served_shop)
    await retire_connectors(db, stranger_tenant.id)


async def _subscribe(container: Container, token: str, document: str, variables: dict[str, Any]) -> Any:
    """The first thing a subscription sends (its data or its errors), or "silent" when nothing comes within a
    second: what a websocket client would see first."""
    async with container.db.reader() as session:
        principal, _ = await TokenService(session).authenticate(token)
    context = Context(container=container, principal=principal, on_socket=True)
    stream = await build_schema(container.settings).subscribe(document, variables, context_value=context)
    if isinstance(stream, ExecutionResult):
        return _result(stream)
    try:
        first = await asyncio.wait_for(anext(stream), 1.0)
    except TimeoutError:
        return "silent"
    finally:
        await stream.aclose()
    return _result(first)


def _result(result: ExecutionResult) -> Any:
    errors = [
        {"message": error.message, "path": error.path, **(error.extensions or {})} for error in result.errors or ()
    ]
    return {"data": result.data, "errors": errors}


async def ask(world: World, container: Container, field: str, names: Names) -> str:
    """The stranger's answer to `field`'s probe naming `names`, as text with the names put back as placeholders."""
    probe = PROBES[field]
    variables = probe.variables(names)
    if "$credentials" in probe.document:
        variables["credentials"] = world.credentials
    if probe.document.lstrip().startswith("subscription"):
        answer: Any = await _subscribe(container, world.stranger.token, probe.document, variables)
    else:
        response = await world.stranger.raw(probe.document, variables)
        answer = {"status": response.status_code, "body": response.json()}
    return names.placeholders(json.dumps(_steady(answer), sort_keys=True, ensure_ascii=False))


VOLATILE = frozenset({"id", "revision", "cursor", "startCursor", "endCursor", "webhookPath"})
"""Values a new object of the caller's own takes (upsertProducts of a SKU only the owner has creates the caller's
product): whether they are there is compared, not what they are."""


def _steady(answer: Any) -> Any:
    if isinstance(answer, dict):
        return {
            key: f"<{key}>" if key in VOLATILE and item is not None else _steady(_in_order(key, item))
            for key, item in answer.items()
        }
    if isinstance(answer, list):
        return [_steady(item) for item in answer]
    return answer


def _in_order(key: str, item: Any) -> Any:
    """A response's errors by path: root fields resolve concurrently, so their errors come in the order the
    resolvers happened to finish (on PostgreSQL, either order of a probe's two fields)."""
    if key == "errors" and isinstance(item, list):
        return sorted(item, key=lambda error: json.dumps(error.get("path"), ensure_ascii=False))
    return item


def test_every_root_field_is_probed() -> None:
    """A root field added to the schema needs a probe here: until then, nobody checked it keeps tenants apart."""
    assert root_fields() == set(PROBES), (
        f"no probe for {sorted(root_fields() - set(PROBES))}; probes for no field {sorted(set(PROBES) - root_fields())}"
    )


@pytest.mark.parametrize("field", sorted(PROBES))
async def test_another_tenants_objects_read_as_missing_and_shared_names_reach_only_the_callers(
    field: str, world: World, container: Container
) -> None:
    """One world for both probes of a field (building it is most of the cost): first the owner's own ids, codes
    and SKUs, which must answer as missing ones do, then the names both tenants have, which must reach only the
    caller's objects; neither may show or change the owner's data."""
    before = await world.owner(OWNER_VIEW)
    foreign = await ask(world, container, field, world.foreign)
    assert OWNER_MARK not in foreign, f"{field} shows the owner's data: {foreign}"
    if PROBES[field].variables is not _none:  # a field that names nothing has nothing to compare
        missing = await ask(world, container, field, MISSING)
        assert foreign == missing, f"{field}: the owner's objects answer otherwise than missing ones"
    assert await world.owner(OWNER_VIEW) == before, f"{field} changed the owner's data"

    answer = await ask(world, container, field, world.shared)
    assert OWNER_MARK not in answer, f"{field} shows the owner's data: {answer}"
    leaked = [pk for pk in world.owner_ids if pk in answer]
    assert not leaked, f"{field} shows the owner's ids {leaked}: {answer}"
    assert await world.owner(OWNER_VIEW) == before, f"{field} changed the owner's data"


async def test_a_conflict_of_another_tenant_on_the_same_connector_code_is_never_pushed(
    world: World, container: Container
) -> None:
    """Both tenants have store_x: the stranger following store_x hears of its own conflicts only."""
    async with container.db.reader() as session:
        principal, _ = await TokenService(session).authenticate(world.stranger.token)
    context = Context(container=container, principal=principal, on_socket=True)
    document = 'subscription { conflictDetected(connectorCode: "store_x") { id productSku } }'
    stream = await build_schema(container.settings).subscribe(document, {}, context_value=context)
    assert not isinstance(stream, ExecutionResult), stream
    first = asyncio.ensure_future(anext(stream))
    await until_subscribed(container, notify.channel(container.redis, world.stranger_tenant.id))
    owner_pk = parse_global_id(world.foreign.conflict)[1]
    stranger_pk = parse_global_id(world.shared.conflict)[1]
    await publish_conflict(container.redis, world.owner_tenant.id, SHARED_CONNECTOR, owner_pk)
    await publish_conflict(container.redis, world.stranger_tenant.id, SHARED_CONNECTOR, owner_pk)  # misrouted
    await publish_conflict(container.redis, world.stranger_tenant.id, SHARED_CONNECTOR, stranger_pk)
    result = await asyncio.wait_for(first, 10)
    await stream.aclose()
    assert result.errors is None
    assert result.data == {"conflictDetected": {"id": world.shared.conflict, "productSku": SHARED_SKU}}


async def test_cancelling_another_tenants_job_neither_waits_for_nor_locks_its_connector(
    world: World, db: Database
) -> None:
    """cancelSyncJob took a share lock on the named job's connector before checking whose job it was: while the
    owner's connector was being changed, a stranger's cancel of the owner's job waited for it (a missing job's
    answers at once), and the stranger's lock held up the owner's connector deletion."""
    if db.sqlite:
        pytest.skip("SQLite has no row locks: any write transaction waits for every other")
    cancel = f"mutation($id: ID!) {{ cancelSyncJob(id: $id) {{ {ERRORS} }} }}"
    async with db.transaction() as session:
        await ConnectorRepository(session).by_code(world.owner_tenant.id, "only_a", for_update=True)
        asked = asyncio.ensure_future(world.stranger(cancel, {"id": world.foreign.pending_job}))
        done, _ = await asyncio.wait({asked}, timeout=5)
        answered_meanwhile = asked in done
    foreign = await asked
    missing = await world.stranger(cancel, {"id": MISSING.pending_job})
    assert answered_meanwhile, "the stranger's cancel waited for the owner's connector lock"
    assert world.foreign.placeholders(json.dumps(foreign)) == MISSING.placeholders(json.dumps(missing))


async def test_a_job_reads_its_own_tenants_product_of_a_sku_both_tenants_have(
    own_world: World, container: Container
) -> None:
    """Planning and running select products by SKU: SHARED-1 is the owner's product for the owner's job."""
    job = await run_here(
        own_world.owner, container, code=SHARED_CONNECTOR, syncType="SINGLE", productSkus=[SHARED_SKU], dryRun=True
    )
    assert job["status"] == "COMPLETED", job
    [change] = [edge["node"] for edge in job["changes"]["edges"]]
    sent = json.dumps(change, ensure_ascii=False)
    assert change["productSku"] == SHARED_SKU and f"{OWNER_MARK} chair" in sent and "Stranger" not in sent, sent
