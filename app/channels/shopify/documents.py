"""Every GraphQL document the Shopify adapter sends, with the query cost it is expected to take.

Each document is a constant, so a test can validate all of them against the
pinned Admin API SDL (specs/shopify/admin-2026-04.graphql); nothing is built
by string concatenation at run time, and every value travels as a variable.

Arguments whose SDL default is what we want are left out (productSet and
productDelete run synchronously by default), so a document asks for nothing
it does not need.

`estimate()` is what the adapter asks the connector's rate gate for before
sending: Shopify's requested query cost, by its published rules (shopify.dev
"API rate limits": an object costs 1, a connection 2 plus `first` times one
node, a mutation 10, plus what its input adds where the SDL gives an input
field a "Complexity cost"), rounded up where unsure. Asking for less than Shopify
requires would earn THROTTLED answers; asking for much more would waste the
bucket. The throttleStatus of every answer then corrects the shared bucket to
what Shopify really has left.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final


@dataclass(frozen=True, slots=True)
class Operation:
    """One named GraphQL document and the cost points it is expected to use."""

    name: str
    text: str
    cost: float
    """The fixed part: everything outside the document's one paginated connection."""
    per_node: float = 0.0
    """What each node of that connection adds; the `first` variable says how many are asked for."""
    per_input: tuple[tuple[tuple[str, ...], float], ...] = ()
    """(variables path, points): what each item found at that path of the variables adds (a list's every
    element, or the one object), through lists on the way; the SDL's "Complexity cost: <points> per <item>"."""

    @property
    def changes_nothing(self) -> bool:
        """A query, not a mutation: a stop need not wait for its answer (channels.transport.CHANGES_NOTHING)."""
        return self.text.lstrip().startswith("query")

    def estimate(self, variables: Mapping[str, Any]) -> float:
        """The cost Shopify will require for this request, before it runs: whole points, rounded up."""
        first = variables.get("first")
        cost = self.cost + self.per_node * (first if isinstance(first, int) else FETCH_PAGE_SIZE)
        cost += sum(points * _items_at(variables, path) for path, points in self.per_input)
        return float(math.ceil(cost - 1e-9))  # 0.2 x 5 is 1.0000000000000002 in floats: not a point more


def _items_at(value: Any, path: tuple[str, ...]) -> int:
    """How many items `path` reaches in `value`: a list counts its elements, any other value one, None none."""
    if isinstance(value, list):
        return sum(_items_at(item, path) for item in value)
    if not path:
        return 0 if value is None else 1
    return _items_at(value.get(path[0]), path[1:]) if isinstance(value, Mapping) else 0


FETCH_PAGE_SIZE: Final = 25
"""Variants asked for per page of a SKU search, and SKUs per search: about 300 points a page, well under
Shopify's 1,000-point limit for a single query."""
LOOKUP_PAGE_SIZE: Final = 5
"""Variants a single-SKU lookup asks for per page: a search term may match loosely (case-insensitively, at least),
so the exact match is picked here, and the next page read while there is one: the exact match may come after a
page of loose ones."""

SHOP_INFO: Final = Operation(
    "ShopInfo",
    """
query ShopInfo {
  shop {
    name
    currencyCode
    enabledPresentmentCurrencies
    weightUnit
  }
  shopLocales {
    locale
    primary
    published
  }
  productsCount {
    count
    precision
  }
}
""",
    cost=3,
)

PRIMARY_LOCATION: Final = Operation(
    "PrimaryLocation",
    """
query PrimaryLocation {
  location {
    id
  }
}
""",
    cost=2,
)

_PRODUCT_STATE = """
fragment ProductState on Product {
  id
  variantsCount {
    count
  }
  media(first: 10) {
    nodes {
      id
      status
    }
    pageInfo {
      hasNextPage
      endCursor
    }
  }
  newestMedia: media(first: 1, sortKey: ID, reverse: true) {
    nodes {
      id
    }
  }
  imageSource: metafield(key: "pimsync_image_source") {
    value
  }
  options {
    id
    name
  }
  variants(first: 2) {
    nodes {
      id
      sku
      selectedOptions {
        name
        value
      }
      inventoryItem {
        measurement {
          weight {
            unit
            value
          }
        }
      }
    }
  }
}
"""

PRODUCT_STATE: Final = Operation(
    "ProductState",
    """
query ProductState($id: ID!) {
  product(id: $id) {
    ...ProductState
  }
}
"""
    + _PRODUCT_STATE,
    cost=31,
)
"""The media list and the image-source metafield say whether the image the document names is in place (the
featured media, made from that URL) and which media are the connector's own (media.image_plan): only those are
ever moved or taken off the product. The first 10 media cover most galleries; PRODUCT_MEDIA_PAGE reads the rest
only when a media the marker names is not among them. `newestMedia` (the highest id: Shopify's ids only grow) is
where an image added next is looked for should the answer to its add be lost (schemas.PendingImage)."""

PRODUCT_STOCK_STATE: Final = Operation(
    "ProductStockState",
    """
query ProductStockState($id: ID!, $locationId: ID!) {
  product(id: $id) {
    ...ProductState
    stock: variants(first: 1) {
      nodes {
        inventoryItem {
          id
          tracked
          inventoryLevel(locationId: $locationId) {
            id
          }
        }
      }
    }
  }
}
"""
    + _PRODUCT_STATE,
    cost=36,
)
"""PRODUCT_STATE and, for a document that carries stock, whether the variant is stocked at the location the
stock is written to and tracked: productSet only sets quantities "at locations where the variant is already
stocked" (ProductVariantSetInput.inventoryQuantities), and a product the merchant made may be stocked elsewhere
only. Read in the same request, so an update of a variant already stocked and tracked costs 5 points more and
no request more. `first: 1`: only single-variant products are exported."""

PRODUCT_MEDIA_PAGE: Final = Operation(
    "ProductMediaPage",
    """
query ProductMediaPage($id: ID!, $first: Int!, $after: String) {
  product(id: $id) {
    media(first: $first, after: $after) {
      nodes {
        id
        status
      }
      pageInfo {
        hasNextPage
        endCursor
      }
    }
  }
}
""",
    cost=3,
    per_node=1,
)
"""The product's media after the first ones ProductState read, in position order; asked only when the
connector's own media (the image-source metafield names them) may be among them."""

PRODUCT_PENDING_MEDIA: Final = Operation(
    "ProductPendingMedia",
    """
query ProductPendingMedia($id: ID!, $query: String) {
  product(id: $id) {
    media(first: 1, sortKey: ID, query: $query) {
      nodes {
        id
        status
      }
      pageInfo {
        hasNextPage
        endCursor
      }
    }
  }
}
""",
    cost=4,
)
"""The product's first media by id after the one a PendingImage names (`query: "id:>N"`): the media the add that
wrote it made, its answer lost. Asked only when the image-source metafield says an image was being added."""

MEDIA_PAGE_SIZE: Final = 250
"""Media per ProductMediaPage request (Shopify's most per connection page, and per product): 253 points."""

PRODUCT_ID_BY_SKU: Final = Operation(
    "ProductIdBySku",
    """
query ProductIdBySku($query: String!, $first: Int!, $after: String) {
  productVariants(first: $first, after: $after, query: $query) {
    nodes {
      sku
      product {
        id
      }
    }
    pageInfo {
      hasNextPage
      endCursor
    }
  }
}
""",
    cost=2,
    per_node=2,
)

PRODUCT_SET: Final = Operation(
    "ProductSet",
    """
mutation ProductSet($identifier: ProductSetIdentifiers, $input: ProductSetInput!) {
  productSet(identifier: $identifier, input: $input) {
    product {
      id
      media(first: 1) {
        nodes {
          id
        }
      }
    }
    userErrors {
      code
      field
      message
    }
  }
}
""",
    cost=10,
    per_input=(
        (("input", "files"), 1.9),
        (("input", "variants"), 0.2),
        (("input", "metafields"), 0.4),
        (("input", "variants", "file"), 0.6),
        (("input", "variants", "metafields"), 0.4),
    ),
)
"""10 points, and what the SDL says each file, variant and metafield of the input adds (ProductSetInput,
ProductVariantSetInput: "Complexity cost"). `files` is sent only when creating a product (its image, 1.9 points):
it replaces the product's whole media list, so an update never sends it (PRODUCT_MEDIA_ADD and the mutations after
it change the image instead)."""

PRODUCT_MEDIA_ADD: Final = Operation(
    "ProductMediaAdd",
    """
mutation ProductMediaAdd($product: ProductUpdateInput!, $media: [CreateMediaInput!]!) {
  productUpdate(product: $product, media: $media) {
    product {
      media(last: 1) {
        nodes {
          id
        }
      }
    }
    userErrors {
      field
      message
    }
  }
}
""",
    cost=10,
)
"""Adds the PIM's image to an existing product (`product` carries the id and the image-source metafield naming the
image being added, so no other field changes): "List of new media to be added to the product", appended after the
media it has, none of which is touched. The answer's
last media is the one just added. productCreateMedia did the same but is deprecated in 2026-04 ("Use
`productUpdate` or `productSet` instead"); CreateMediaInput carries no complexity cost, so 10 points."""

PRODUCT_REORDER_MEDIA: Final = Operation(
    "ProductReorderMedia",
    """
mutation ProductReorderMedia($id: ID!, $moves: [MoveInput!]!) {
  productReorderMedia(id: $id, moves: $moves) {
    job {
      id
      done
    }
    mediaUserErrors {
      code
      field
      message
    }
  }
}
""",
    cost=10,
)
"""Moves the PIM's image to the front (one MoveInput: "Provide this input only for objects whose position actually
changed"; every other media keeps its relative order). Shopify runs it as a Job; it is not waited for: the next
export sees whether the image is first and sends the move again if not, and a move sent twice ends the same."""

FILE_DETACH: Final = Operation(
    "FileDetach",
    """
mutation FileDetach($files: [FileUpdateInput!]!) {
  fileUpdate(files: $files) {
    files {
      id
    }
    userErrors {
      code
      field
      message
    }
  }
}
""",
    cost=10,
)
"""Takes the PIM's old image off the product (`referencesToRemove: [product]`: "Removing file-product associations
deletes the file from the product's media gallery"), leaving every other media, and the file itself, where it is:
the merchant may have put it to use elsewhere (a file's references cannot be read in 2026-04), so it is not
deleted. fileUpdate takes only files Shopify has processed ("Files must be in ready state"); see FILE_DELETE."""

FILE_DELETE: Final = Operation(
    "FileDelete",
    """
mutation FileDelete($fileIds: [ID!]!) {
  fileDelete(fileIds: $fileIds) {
    deletedFileIds
    userErrors {
      code
      field
      message
    }
  }
}
""",
    cost=10,
)
"""Deletes an old image of the PIM's that fileUpdate cannot detach: one Shopify failed to process (broken, shown
nowhere) or is still processing (made by this connector moments ago, too new for the merchant to have used it
elsewhere). productDeleteMedia did this per product but is deprecated ("Use `fileUpdate` instead")."""

INVENTORY_ACTIVATE: Final = Operation(
    "InventoryBulkToggleActivation",
    """
mutation InventoryBulkToggleActivation(
  $inventoryItemId: ID!
  $inventoryItemUpdates: [InventoryBulkToggleActivationInput!]!
) {
  inventoryBulkToggleActivation(inventoryItemId: $inventoryItemId, inventoryItemUpdates: $inventoryItemUpdates) {
    inventoryLevels {
      id
    }
    userErrors {
      code
      field
      message
    }
  }
}
""",
    cost=10,
)
"""Stocks a variant at a location (`activate: true`), so productSet may then set its quantity there; sent only
when ProductStockState read it unstocked there. inventoryActivate does the same, but 2026-04 requires an
idempotency key on it (@idempotent); activating where the item is already stocked changes nothing, so this
mutation, which needs no key, is safe to send again after a lost answer."""

IMAGE_SOURCE_KEY: Final = "pimsync_image_source"
"""The product metafield (in the app-reserved namespace, which no other app and no merchant edits) that
remembers which media the connector made from which image URL; see media.image_source_metafield."""
APP_NAMESPACE: Final = "$app"
"""The app-reserved namespace, named where MetafieldInput (productSet, productUpdate) needs a namespace to create a
metafield; metafieldsSet and Product.metafield take it as the default."""

METAFIELDS_SET: Final = Operation(
    "MetafieldsSet",
    """
mutation MetafieldsSet($metafields: [MetafieldsSetInput!]!) {
  metafieldsSet(metafields: $metafields) {
    metafields {
      id
    }
    userErrors {
      code
      field
      message
    }
  }
}
""",
    cost=10,
)

TRANSLATABLE_CONTENT: Final = Operation(
    "TranslatableContent",
    """
query TranslatableContent($resourceId: ID!) {
  translatableResource(resourceId: $resourceId) {
    resourceId
    translatableContent {
      key
      value
      digest
      locale
    }
  }
}
""",
    cost=3,
)

TRANSLATIONS_REGISTER: Final = Operation(
    "TranslationsRegister",
    """
mutation TranslationsRegister($resourceId: ID!, $translations: [TranslationInput!]!) {
  translationsRegister(resourceId: $resourceId, translations: $translations) {
    translations {
      key
      locale
    }
    userErrors {
      code
      field
      message
    }
  }
}
""",
    cost=10,
)

TRANSLATIONS_REMOVE: Final = Operation(
    "TranslationsRemove",
    """
mutation TranslationsRemove($resourceId: ID!, $translationKeys: [String!]!, $locales: [String!]!) {
  translationsRemove(resourceId: $resourceId, translationKeys: $translationKeys, locales: $locales) {
    translations {
      key
      locale
    }
    userErrors {
      code
      field
      message
    }
  }
}
""",
    cost=10,
)

PRODUCT_DELETE: Final = Operation(
    "ProductDelete",
    """
mutation ProductDelete($input: ProductDeleteInput!) {
  productDelete(input: $input) {
    deletedProductId
    userErrors {
      field
      message
    }
  }
}
""",
    cost=10,
)

_REMOTE_VARIANT = """
fragment RemoteVariant on ProductVariant {
  id
  sku
  price
  compareAtPrice
  barcode
  inventoryItem {
    measurement {
      weight {
        unit
        value
      }
    }
    inventoryLevel(locationId: $locationId) {
      quantities(names: ["available"]) {
        name
        quantity
      }
    }
  }
  product {
    id
    title
    descriptionHtml
    handle
    productType
    vendor
    tags
    status
    updatedAt
    seo {
      title
      description
    }
    featuredMedia {
      id
      ... on MediaImage {
        image {
          url
        }
      }
    }
    imageSource: metafield(key: "pimsync_image_source") {
      value
    }
  }
}
"""

PRODUCTS_BY_SKU: Final = Operation(
    "ProductsBySku",
    """
query ProductsBySku($query: String!, $first: Int!, $after: String, $locationId: ID!) {
  productVariants(first: $first, after: $after, query: $query) {
    nodes {
      ...RemoteVariant
    }
    pageInfo {
      hasNextPage
      endCursor
    }
  }
}
"""
    + _REMOTE_VARIANT,
    cost=2,
    per_node=11,
)
"""Stock is read at one location, the one exports write to (adapter._location): ProductVariant.inventoryQuantity
is the total over every location, which would read a stock written as 7 back as 7 plus whatever other
locations hold."""

PRODUCT_TRANSLATIONS: Final = Operation(
    "ProductTranslations",
    """
query ProductTranslations($resourceIds: [ID!]!, $first: Int!, $locale: String!) {
  translatableResourcesByIds(resourceIds: $resourceIds, first: $first) {
    nodes {
      resourceId
      translations(locale: $locale) {
        key
        value
        updatedAt
      }
    }
  }
}
""",
    cost=2,
    per_node=2,
)

WEBHOOK_PAGE_SIZE: Final = 10
"""Subscriptions asked for when listing those of one callback URL: Shopify holds at most one per topic and
address ("Address for this topic has already been taken"), and two topics are asked about."""

WEBHOOK_SUBSCRIPTIONS: Final = Operation(
    "WebhookSubscriptions",
    """
query WebhookSubscriptions($uri: String!, $topics: [WebhookSubscriptionTopic!]!, $first: Int!) {
  webhookSubscriptions(first: $first, uri: $uri, topics: $topics) {
    nodes {
      id
      topic
      uri
    }
  }
}
""",
    cost=2,
    per_node=1,
)

WEBHOOK_SUBSCRIPTION_CREATE: Final = Operation(
    "WebhookSubscriptionCreate",
    """
mutation WebhookSubscriptionCreate($topic: WebhookSubscriptionTopic!, $webhookSubscription: WebhookSubscriptionInput!) {
  webhookSubscriptionCreate(topic: $topic, webhookSubscription: $webhookSubscription) {
    webhookSubscription {
      id
      topic
      uri
    }
    userErrors {
      field
      message
    }
  }
}
""",
    cost=11,
)

WEBHOOK_SUBSCRIPTIONS_BY_TOPIC: Final = Operation(
    "WebhookSubscriptionsByTopic",
    """
query WebhookSubscriptionsByTopic($topics: [WebhookSubscriptionTopic!]!, $first: Int!, $after: String) {
  webhookSubscriptions(first: $first, after: $after, topics: $topics) {
    nodes {
      id
      topic
      uri
    }
    pageInfo {
      hasNextPage
      endCursor
    }
  }
}
""",
    cost=2,
    per_node=1,
)
"""Every subscription of the app to these topics, whatever its address, page by page."""

WEBHOOK_SUBSCRIPTION_DELETE: Final = Operation(
    "WebhookSubscriptionDelete",
    """
mutation WebhookSubscriptionDelete($id: ID!) {
  webhookSubscriptionDelete(id: $id) {
    deletedWebhookSubscriptionId
    userErrors {
      field
      message
    }
  }
}
""",
    cost=10,
)

ALL: Final = (
    SHOP_INFO,
    PRIMARY_LOCATION,
    PRODUCT_STATE,
    PRODUCT_STOCK_STATE,
    PRODUCT_MEDIA_PAGE,
    PRODUCT_PENDING_MEDIA,
    PRODUCT_ID_BY_SKU,
    PRODUCT_SET,
    PRODUCT_MEDIA_ADD,
    PRODUCT_REORDER_MEDIA,
    FILE_DETACH,
    FILE_DELETE,
    INVENTORY_ACTIVATE,
    METAFIELDS_SET,
    TRANSLATABLE_CONTENT,
    TRANSLATIONS_REGISTER,
    TRANSLATIONS_REMOVE,
    PRODUCT_DELETE,
    PRODUCTS_BY_SKU,
    PRODUCT_TRANSLATIONS,
    WEBHOOK_SUBSCRIPTIONS,
    WEBHOOK_SUBSCRIPTION_CREATE,
    WEBHOOK_SUBSCRIPTIONS_BY_TOPIC,
    WEBHOOK_SUBSCRIPTION_DELETE,
)
"""Every document the adapter can send, for the test that validates them against the pinned SDL."""
