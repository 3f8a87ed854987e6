"""Products: upsert in batches (all or nothing, or per product for imports), delete, read.

Every batch that changes anything takes one new tenant revision and stamps it
on the products it changed; a batch that changes nothing takes none, so a
re-import of the same file does not make every product look changed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.db.base import utcnow
from app.db.models import Product
from app.domain.catalog import SEARCHABLE_TYPES, CatalogSpec, search_form
from app.domain.errors import ErrorCode, InvalidInput, NotFound, UserErrorItem
from app.domain.products import CheckedProduct, ProductDraft, check_product
from app.domain.values import ValueKey, settled
from app.repositories.products import ProductFilter, ProductRepository, ValueRow
from app.repositories.tenants import TenantRepository

MAX_PRODUCTS_PER_CALL = 1000


@dataclass
class UpsertOutcome:
    products: list[Product] = field(default_factory=list)
    """The accepted products, in input order."""
    rejected: dict[int, list[UserErrorItem]] = field(default_factory=dict)
    """Input index -> its problems (only when some were allowed to fail)."""
    changed_skus: set[str] = field(default_factory=set)
    """The SKUs of the accepted products that were created or changed; the others were left as they were."""


@dataclass
class _Plan:
    """What one batch writes: value inserts, updates and deletes, and the products they touch."""

    inserts: list[tuple[Product, ValueKey, Any]] = field(default_factory=list)
    updates: list[dict[str, Any]] = field(default_factory=list)
    deletes: list[int] = field(default_factory=list)
    changed: dict[int, tuple[Product, dict[ValueKey, Any]]] = field(default_factory=dict)
    """id(product object) -> (product, its values after the batch)."""


def search_text(sku: str, values: dict[ValueKey, Any], spec: CatalogSpec) -> str:
    """What `products(search:)` matches: the SKU and every text value, in their search form."""
    by_id = spec.by_id
    parts = [sku]
    for key, data in values.items():
        attribute = by_id.get(key.attribute_id)
        if attribute is not None and attribute.type in SEARCHABLE_TYPES and isinstance(data, str):
            parts.append(data)
    return search_form("\n".join(parts))


class ProductService:
    def __init__(self, session: AsyncSession) -> None:
        self.products = ProductRepository(session)
        self.tenants = TenantRepository(session)

    async def upsert(
        self,
        tenant_id: int,
        drafts: Sequence[ProductDraft],
        spec: CatalogSpec,
        *,
        partial: bool = False,
        author: str | None = None,
    ) -> UpsertOutcome:
        """Create or update products; values not given are left as they are, null data clears one.

        With `partial` false any bad product rejects the whole batch
        (InvalidInput, nothing written); with `partial` true the good ones are
        written and the bad ones reported per input index.
        """
        if len(drafts) > MAX_PRODUCTS_PER_CALL and not partial:
            message = f"at most {MAX_PRODUCTS_PER_CALL} products per call"
            raise InvalidInput([UserErrorItem(("products",), message, ErrorCode.BATCH_TOO_LARGE)])
        accepted, rejected = _check_all(drafts, spec)
        if rejected and not partial:
            raise InvalidInput([error for errors in rejected.values() for error in errors])
        products, changed = await self._write(tenant_id, [checked for _, checked in accepted], spec, author)
        return UpsertOutcome(products=products, rejected=rejected, changed_skus=changed)

    async def delete(self, tenant_id: int, skus: Sequence[str]) -> list[str]:
        """Delete products (all or nothing); they stay as tombstones with a new revision.

        At most MAX_PRODUCTS_PER_CALL SKUs, repeats counted: every one is
        looked up, and a database binds only so many parameters.
        """
        if len(skus) > MAX_PRODUCTS_PER_CALL:
            message = f"at most {MAX_PRODUCTS_PER_CALL} SKUs per call"
            raise InvalidInput([UserErrorItem(("skus",), message, ErrorCode.BATCH_TOO_LARGE)])
        found = await self.products.by_skus(tenant_id, list(dict.fromkeys(skus)))
        errors = [
            UserErrorItem(("skus", index), f"no product with SKU {sku}", ErrorCode.PRODUCT_NOT_FOUND)
            for index, sku in enumerate(skus)
            if sku not in found or found[sku].deleted_at is not None
        ]
        if errors:
            raise InvalidInput(errors)
        if not skus:
            return []
        revision = await self.tenants.next_revision(tenant_id)
        now = utcnow()
        for product in found.values():
            product.deleted_at, product.updated_at, product.revision = now, now, revision
            product.search_text = ""
        await self.products.delete_all_values(tenant_id, [product.id for product in found.values()])
        await self.products.flush()
        return list(dict.fromkeys(skus))

    async def page(self, tenant_id: int, where: ProductFilter, *, after_id: int | None, limit: int) -> list[Product]:
        """Up to `limit` live products after `after_id` (keyset)."""
        return await self.products.page(tenant_id, where, after_id=after_id, limit=limit)

    async def count(self, tenant_id: int, where: ProductFilter) -> int:
        """How many live products match `where` in all."""
        return await self.products.count(tenant_id, where)

    async def get_by_id(self, tenant_id: int, product_id: int) -> Product:
        product = (await self.products.live_by_ids(tenant_id, [product_id])).get(product_id)
        if product is None:
            raise NotFound(f"no product {product_id}")
        return product

    async def get(self, tenant_id: int, sku: str) -> Product:
        product = await self.products.live_by_sku(tenant_id, sku)
        if product is None:
            raise NotFound(f"no product with SKU {sku}")
        return product

    async def _write(
        self, tenant_id: int, checked: list[CheckedProduct], spec: CatalogSpec, author: str | None
    ) -> tuple[list[Product], set[str]]:
        existing = await self.products.by_skus(tenant_id, [item.sku for item in checked])
        stored = _group(await self.products.values_of(tenant_id, [p.id for p in existing.values()]))
        plan = _Plan()
        products = [self._plan_product(item, existing.get(item.sku), stored, plan) for item in checked]
        if plan.changed:
            await self._apply(tenant_id, plan, spec, author)
        return products, {product.sku for product, _ in plan.changed.values()}

    def _plan_product(
        self,
        item: CheckedProduct,
        product: Product | None,
        stored: dict[int, dict[ValueKey, ValueRow]],
        plan: _Plan,
    ) -> Product:
        if product is None:
            product = Product(sku=item.sku, enabled=True if item.enabled is None else item.enabled)
            product.family, product.parent = item.family or None, item.parent or None
            changed = True
        else:
            changed = _apply_header(product, item)
        rows = stored.get(product.id, {}) if product.id is not None else {}
        now = utcnow()
        given = {key: settled(data, rows[key].data if key in rows else None) for key, data in item.values.items()}
        for key, data in given.items():
            row = rows.get(key)
            if data is None and row is not None:
                plan.deletes.append(row.id)
            elif data is not None and row is None:
                plan.inserts.append((product, key, data))
            elif data is not None and row is not None and row.data != data:
                plan.updates.append({"id": row.id, "data": data, "updated_at": now})
            else:
                continue
            changed = True
        if changed:
            final = {key: row.data for key, row in rows.items()}
            final.update(given)
            plan.changed[id(product)] = (product, {k: v for k, v in final.items() if v is not None})
        return product

    async def _apply(self, tenant_id: int, plan: _Plan, spec: CatalogSpec, author: str | None) -> None:
        revision = await self.tenants.next_revision(tenant_id)
        now = utcnow()
        for product, values in plan.changed.values():
            product.tenant_id = tenant_id
            product.revision, product.updated_at, product.deleted_at = revision, now, None
            product.search_text = search_text(product.sku, values, spec)
        self.products.add_all([product for product, _ in plan.changed.values() if product.id is None])
        await self.products.flush()
        await self.products.insert_values(
            [
                {
                    "tenant_id": tenant_id,
                    "product_id": product.id,
                    "attribute_id": key.attribute_id,
                    "locale": key.locale,
                    "scope": key.scope,
                    "data": data,
                    "updated_at": now,
                    "updated_by": author,
                }
                for product, key, data in plan.inserts
            ]
        )
        await self.products.update_values([{**row, "updated_by": author} for row in plan.updates])
        await self.products.delete_values(tenant_id, plan.deletes)


def _check_all(
    drafts: Sequence[ProductDraft], spec: CatalogSpec
) -> tuple[list[tuple[int, CheckedProduct]], dict[int, list[UserErrorItem]]]:
    accepted: list[tuple[int, CheckedProduct]] = []
    rejected: dict[int, list[UserErrorItem]] = {}
    seen: set[str] = set()
    for index, draft in enumerate(drafts):
        result = check_product(draft, spec)
        if draft.sku in seen:
            duplicate = UserErrorItem(
                ("sku",), f"{draft.sku} is given twice in this batch", ErrorCode.DUPLICATE_IN_BATCH
            )
            result = [*(result if isinstance(result, list) else []), duplicate]
        seen.add(draft.sku)
        if isinstance(result, list):
            rejected[index] = [error.under("products", index) for error in result]
        else:
            accepted.append((index, result))
    return accepted, rejected


def _apply_header(product: Product, item: CheckedProduct) -> bool:
    """Set the header fields the input gives; whether anything changed (a tombstone always has)."""
    changed = product.deleted_at is not None
    updates = {"enabled": item.enabled, "family": item.family, "parent": item.parent}
    for name, value in updates.items():
        if value is None:
            continue
        new = value if name == "enabled" else (value or None)
        if getattr(product, name) != new:
            setattr(product, name, new)
            changed = True
    return changed


def _group(rows: list[ValueRow]) -> dict[int, dict[ValueKey, ValueRow]]:
    grouped: dict[int, dict[ValueKey, ValueRow]] = {}
    for row in rows:
        grouped.setdefault(row.product_id, {})[ValueKey(row.attribute_id, row.locale, row.scope)] = row
    return grouped
