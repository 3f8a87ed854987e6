"""A product's image on Shopify: which of its media an export changes for imageUrl, and the mutations that do it.

productSet's `files` replace a product's whole media list, so they are sent
only to create a product (its one image: nothing of the merchant's exists
yet); ProductMedia.remember then records which media Shopify made from the
URL. An update never
sends them: a media list read a few requests before the write would delete
whatever the merchant added meanwhile. image_plan says
instead which targeted mutations make the PIM's image the featured one, each
naming only the connector's own media:

- ProductMediaAdd (productUpdate `media`) adds the new image, and
  MetafieldsSet records it with the old ones still to take off;
- ProductReorderMedia moves it first (a Job Shopify runs shortly after, not
  waited for: the next export moves it again if it has not run);
- FileDetach (fileUpdate `referencesToRemove`) takes the PIM's earlier image
  off the product, the file kept; FileDelete removes one Shopify failed or
  has not yet processed.

An image already in place plans nothing, so no media mutation is sent. A
failure after the add fails the item (CHN-032, CHN-030 if the product is gone)
and the retry does only what is left.

An app-owned product metafield (image_source_metafield) names the media made
from the URL and the earlier ones still to take off, written right after the
add. The add itself (productSet creating the product, productUpdate adding the
image) writes it first, in the same change as the media, saying which URL is
being added after which media (schemas.PendingImage): Shopify made the media
exactly when that was written, so a retry after a lost answer, or after the
record failed, finds the media by id (ProductPendingMedia: Shopify's ids only
grow) and adds nothing again. Shopify re-hosts an image asynchronously, so the
media has no image URL
while it is processed and a CDN URL after, never the URL sent;
MediaImage.originalSource.url is a signed URL "valid only for a short period"
(2026-04 SDL), not the source either. It is how a retry recognises its own
media (no second add) and finishes what a half-failed export left. The
read-back (mapper.remote_product) reports the URL sent while the featured
media is that media. ProductState reads the product's first media with the
metafield; ProductMediaPage reads the rest of a long gallery only when a media
the metafield names is not among them (ProductMedia.read_all).

The planning is pure (table-tested without I/O); ProductMedia sends the plan
through the shop's ShopifyClient.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Final

from app.channels.base import ChannelDocument, ItemResult
from app.channels.shopify import documents as gql
from app.channels.shopify.client import ShopifyClient
from app.channels.shopify.mapper import image_marker_input, text_value
from app.channels.shopify.schemas import (
    JsonObject,
    MediaState,
    PendingImage,
    ProductState,
    RememberedImage,
    UserError,
    marker_value,
    obj,
    parse_first_media,
    parse_media_added,
    parse_media_page,
    parse_media_reordered,
)
from app.domain.errors import ErrorCode

# -- planning (pure) ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ImagePlan:
    """What an update does to the product's media for imageUrl. Only the connector's own media (those the
    image-source metafield names) are ever named: every other media is the merchant's, and no mutation sent for
    the image touches it, or the media list as a whole."""

    add: str | None = None
    """The URL to add as a new media: no media of the connector's on the product is made from it (productUpdate)."""
    first: str | None = None
    """The connector's media made from the URL, on the product but not first: moved to the front
    (productReorderMedia). After an add, the media added is moved instead."""
    retire: tuple[MediaState, ...] = ()
    """The connector's other media still on the product: taken off it (fileUpdate, or fileDelete)."""

    @property
    def changes(self) -> bool:
        return bool(self.add or self.first or self.retire)


NO_CHANGE: Final = ImagePlan()


def own_media_ids(existing: ProductState) -> tuple[str, ...]:
    """The media the image-source metafield says the connector made: its image and those it retired."""
    marker = existing.marker
    return () if marker is None else tuple(dict.fromkeys((marker.media_id, *marker.retired)))


def image_plan(url: object, existing: ProductState) -> ImagePlan:
    """The media changes that make the product's featured media the image made from `url` (None or "": no image
    of the PIM's), from the product as read. An image in place (made from that URL, featured, with no earlier one
    of the connector's left) plans nothing, so an export that does not change the image sends no media mutation.

    The connector's image made from `url` is recognised by the metafield, so a retry after an export that failed
    half-way (the image added, the old one not taken off or the new one not moved first) adds nothing again: it
    only finishes the moves and removals. A media Shopify failed to process is not an image in place: it is
    retired and the URL added again. `existing` must hold every media own_media_ids names that the product has
    (ProductMedia.read_all reads the rest of a long gallery for that).
    """
    source = None if url is None else text_value("imageUrl", url) or None
    present = {media.id: media for media in existing.media}
    image = existing.image
    kept = image.media_id if image is not None and source is not None and image.source == source else None
    retire = tuple(present[i] for i in own_media_ids(existing) if i in present and i != kept)
    if source is None:
        return ImagePlan(retire=retire)
    if kept is None:
        return ImagePlan(add=source, retire=retire)
    return ImagePlan(first=None if existing.media[0].id == kept else kept, retire=retire)


def image_source_metafield(product_id: str, media_id: str, source: str, retired: Sequence[str] = ()) -> dict[str, str]:
    """MetafieldsSetInput remembering that `media_id` is the image made from `source`, and that `retired` are
    earlier images of the connector's still to take off the product (app-reserved namespace)."""
    return marker_metafield(product_id, RememberedImage(media_id, source, tuple(retired)))


def marker_metafield(product_id: str, marker: RememberedImage | None) -> dict[str, str]:
    """MetafieldsSetInput writing `marker` as the image-source metafield (None: no media is the connector's)."""
    return {"ownerId": product_id, "key": gql.IMAGE_SOURCE_KEY, "type": "json", "value": marker_value(marker)}


_PRODUCT_GONE: Final = frozenset({"PRODUCT_DOES_NOT_EXIST", "REFERENCE_TARGET_DOES_NOT_EXIST"})
"""MediaUserErrorCode / FilesErrorCode values that mean the product itself is gone (CHN-030)."""


def _image_failure(document: ChannelDocument, product_id: str, errors: Sequence[UserError]) -> ItemResult:
    """A media mutation's userErrors as the item's failure, product id kept: CHN-030 when the product is gone,
    else CHN-032 (the product exists; its image could not be changed)."""
    gone = any(error.code in _PRODUCT_GONE or error.message.lower() == "product does not exist" for error in errors)
    return ItemResult(
        sku=document.sku,
        ok=False,
        external_id=product_id,
        code=ErrorCode.PRODUCT_NOT_FOUND_IN_CHANNEL if gone else ErrorCode.UPDATE_FAILED,
        message="imageUrl: " + "; ".join(error.message for error in errors),
    )


def _unanswered(document: ChannelDocument, product_id: str, message: str) -> ItemResult:
    """Shopify answered a media mutation without the media it made: the item fails (CHN-032), product id kept."""
    return ItemResult(
        sku=document.sku, ok=False, external_id=product_id, code=ErrorCode.UPDATE_FAILED, message=f"imageUrl: {message}"
    )


def _media_page(data: JsonObject) -> tuple[tuple[MediaState, ...], str | None]:
    """ProductMediaPage → the media of the page and the cursor of the next; a product gone meanwhile is an
    answer we cannot go on from (the productSet that follows would fail on it anyway)."""
    return parse_media_page(obj(data.get("product"), "product").get("media"))


# -- carrying it out ---------------------------------------------------------------------------------


class ProductMedia:
    """The media mutations of one shop: reads a long gallery's rest, records an image made on create, and
    carries out an ImagePlan. Each mutation names only the connector's own media."""

    def __init__(self, client: ShopifyClient) -> None:
        self._client = client

    async def read_all(self, document: ChannelDocument, state: ProductState) -> ProductState:
        """The product with every media read when the document sends an image and a media of the connector's (the
        image-source metafield names them) is not among the first ones ProductState read: image_plan must see
        each of them that is on the product. Most products have no more media than that read: only a longer
        gallery where the merchant moved the connector's image back costs a request more. An image the metafield
        says was being added is found first (_settled), so it counts as the connector's own."""
        if "imageUrl" in document.fields and state.pending is not None:
            state = await self._settled(state)
        own = own_media_ids(state)
        read = {media.id for media in state.media}
        if "imageUrl" not in document.fields or state.media_after is None or all(i in read for i in own):
            return state
        media: list[MediaState] = list(state.media)
        after: str | None = state.media_after
        while after is not None:
            variables = {"id": state.id, "first": gql.MEDIA_PAGE_SIZE, "after": after}
            page, after = await self._client.data(gql.PRODUCT_MEDIA_PAGE, variables, _media_page)
            media += page
        return replace(state, media=tuple(media), media_after=None)

    async def _settled(self, state: ProductState) -> ProductState:
        """`state` with its PendingImage folded into the marker: the media the add made (the product's first by id
        after the one the pending image names) is the connector's image from that URL, and the image it replaced
        joins those to take off, as the record after an answered add says. None found (the merchant deleted it):
        the marker stays as it was. Either way the metafield is written again (rewrite_marker), so no later
        export looks for it; a media the merchant adds after that is never taken for the connector's. (Had the
        merchant deleted the media added and added another between the lost answer and this retry, seconds or
        minutes, that one would be taken for it.)"""
        pending = state.pending
        assert pending is not None
        query = None if pending.after is None else f"id:>{pending.after.rsplit('/', 1)[-1]}"
        found = await self._client.data(gql.PRODUCT_PENDING_MEDIA, {"id": state.id, "query": query}, parse_first_media)
        marker = state.marker
        if found is not None:
            marker = RememberedImage(found.id, pending.source, tuple(i for i in own_media_ids(state) if i != found.id))
        return replace(state, marker=marker, pending=None, rewrite_marker=True)

    async def remember(self, document: ChannelDocument, product_id: str, media_id: str | None) -> ItemResult | None:
        """After a product was created with its image: metafieldsSet records which media was made from its URL,
        so the read-back reports the URL sent however long Shopify takes to process it; the item's failure, or
        None. Not recorded, the pending image productSet wrote with the media still names it for the retry."""
        source = document.fields.get("imageUrl")
        if not isinstance(source, str) or not source:
            return None
        if media_id is None:
            return _unanswered(document, product_id, "Shopify answered productSet without the image's media")
        return await self._record(document, product_id, media_id, image_source_metafield(product_id, media_id, source))

    async def change(self, document: ChannelDocument, state: ProductState, plan: ImagePlan) -> ItemResult | None:
        """Carry out image_plan on an existing product: add the new image and record it, move it first, take the
        connector's earlier images off. Each mutation names only the connector's own media, so a media the
        merchant adds meanwhile is never touched. The item's failure, or None.

        Once the image is added, a later step that fails fails the item (CHN-032) and leaves the metafield
        naming the new image (as added, or as recorded) and the old ones: the retry adds nothing and does only
        what is left. A marker settled from a pending image is written again once the plan is carried out."""
        if not plan.changes and not state.rewrite_marker:
            return None
        first = plan.first
        if plan.add is not None:
            added = await self._add(document, state, plan.add, plan.retire)
            if isinstance(added, ItemResult):
                return added
            first = added
        errors: list[UserError] = []
        if first is not None:
            moves = {"id": state.id, "moves": [{"id": first, "newPosition": "0"}]}
            errors += await self._client.data(gql.PRODUCT_REORDER_MEDIA, moves, parse_media_reordered)
        errors += await self._retire(state.id, plan.retire)
        if not errors and plan.add is None and state.rewrite_marker:
            marker = {"metafields": [marker_metafield(state.id, state.marker)]}
            errors += await self._client.mutation_errors(gql.METAFIELDS_SET, "metafieldsSet", marker)
        return _image_failure(document, state.id, errors) if errors else None

    async def _add(
        self, document: ChannelDocument, state: ProductState, source: str, retire: Sequence[MediaState]
    ) -> str | ItemResult:
        """productUpdate adds the image (after every media the product has) and, in the same change, writes the
        image-source metafield saying so (mapper.image_marker_input); metafieldsSet then records the media made,
        with the earlier images still to retire (_record). The new media's id, or the item's failure."""
        pending = image_marker_input(state.marker, PendingImage(source, state.newest_media))
        variables = {
            "product": {"id": state.id, "metafields": [pending]},
            "media": [{"originalSource": source, "mediaContentType": "IMAGE"}],
        }
        errors, media_id = await self._client.data(gql.PRODUCT_MEDIA_ADD, variables, parse_media_added)
        if errors:
            return _image_failure(document, state.id, errors)
        if media_id is None or any(media.id == media_id for media in state.media):
            return _unanswered(document, state.id, "Shopify answered productUpdate without the image added")
        marker = image_source_metafield(state.id, media_id, source, [media.id for media in retire])
        failure = await self._record(document, state.id, media_id, marker)
        return media_id if failure is None else failure

    async def _record(
        self, document: ChannelDocument, product_id: str, media_id: str, marker: dict[str, str]
    ) -> ItemResult | None:
        """metafieldsSet writes `marker`, naming the media just made from the PIM's image; the item's failure, or
        None. Were it not written, the pending image written with the media still names it: the retry finds
        that media (read_all) and adds nothing."""
        errors = await self._client.mutation_errors(gql.METAFIELDS_SET, "metafieldsSet", {"metafields": [marker]})
        return _image_failure(document, product_id, errors) if errors else None

    async def _retire(self, product_id: str, media: Sequence[MediaState]) -> list[UserError]:
        """Take the connector's earlier images off the product: fileUpdate removes this product's reference to a
        processed one (the file stays the shop's: the merchant may use it elsewhere); one Shopify failed or is
        still processing, which fileUpdate refuses, is deleted. A file already gone counts as taken off."""
        ready = [m.id for m in media if m.status == "READY"]
        others = [m.id for m in media if m.status != "READY"]
        errors: list[UserError] = []
        if ready:
            files = [{"id": media_id, "referencesToRemove": [product_id]} for media_id in ready]
            errors += await self._client.mutation_errors(gql.FILE_DETACH, "fileUpdate", {"files": files})
        if others:
            errors += await self._client.mutation_errors(gql.FILE_DELETE, "fileDelete", {"fileIds": others})
        return [error for error in errors if error.code != "FILE_DOES_NOT_EXIST"]
