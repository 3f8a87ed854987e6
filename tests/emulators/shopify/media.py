"""The targeted media mutations: productUpdate(media:), fileUpdate's references, fileDelete, productReorderMedia.

Unlike productSet's `files` (the product's whole media list), each of these
touches only the media it names, as the 2026-04 SDL describes them:

- productUpdate `media: [CreateMediaInput!]`: "List of new media to be added
  to the product": appended after the product's media, PROCESSING as
  productSet's uploads are (fields.new_media). At most MAX_MEDIA a product
  (MediaUserErrorCode PRODUCT_MEDIA_LIMIT_EXCEEDED).
- fileUpdate `referencesToAdd` / `referencesToRemove` (product ids only):
  "Removing file-product associations deletes the file from the product's
  media gallery"; the file itself stays the shop's (its Files page). "Files
  must be in ready state before they can be updated": a file PROCESSING is
  NON_READY_STATE, a FAILED one INVALID_FAILED_MEDIA_STATE. A reference to
  remove that the file does not have is INVALID, an unknown product
  REFERENCE_TARGET_DOES_NOT_EXIST, an unknown file FILE_DOES_NOT_EXIST. Checked
  as a whole: one userError and no file changes.
- fileDelete: the file is gone from the shop and from every product that
  referenced it, whatever its status; an unknown id is FILE_DOES_NOT_EXIST
  and nothing is deleted.
- productReorderMedia: "The operation processes asynchronously": the moves
  are checked now (MEDIA_DOES_NOT_EXIST_ON_PRODUCT, PRODUCT_DOES_NOT_EXIST)
  and a Job is answered with `done: false`; the moves are applied when the
  job runs (ShopState.run_jobs), against the media list as it is then,
  sequentially, each `newPosition` zero-based and past the end meaning last
  (MoveInput).

Only images are modelled; any other content type, and the input fields the
emulator does not honour, fail the request loudly.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from typing import Any

from .fields import UserError, new_media, refuse_unknown, user_error
from .model import Job, Media, Product, ShopState, parse_gid
from .products import commit
from .schema import not_implemented

MAX_MEDIA = 250
"""Media a product may have (shopify.dev "Product media": up to 250)."""


def check_media(product: Product, media: Sequence[Mapping[str, Any]]) -> list[UserError]:
    """productUpdate's `media` as Shopify would refuse it (field under "media"); [] when every one can be added."""
    errors: list[UserError] = []
    for i, raw in enumerate(media):
        refuse_unknown("CreateMediaInput", raw, ("originalSource", "alt", "mediaContentType"))
        if raw["mediaContentType"] != "IMAGE":
            raise not_implemented(f"CreateMediaInput.mediaContentType {raw['mediaContentType']}")
        if not raw["originalSource"].strip():
            errors.append(user_error(("media", str(i), "originalSource"), "Original source can't be blank", None))
    if len(product.media) + len(media) > MAX_MEDIA:
        errors.append(user_error(("media",), f"Exceeded the limit of {MAX_MEDIA} media per product", None))
    return errors


def add_media(state: ShopState, product: Product, media: Sequence[Mapping[str, Any]]) -> None:
    """productUpdate's `media` (checked by check_media): new images appended after the product's media."""
    before = copy.deepcopy(product)
    for raw in media:
        added = new_media(state, raw["originalSource"].strip())
        added.alt = raw.get("alt")
        product.media.append(added)
    commit(state, product, before, notify=True)


def _files_error(path: Sequence[str], message: str, code: str) -> UserError:
    return user_error(path, message, code)


def update_files(state: ShopState, files: Sequence[Mapping[str, Any]]) -> tuple[list[Media] | None, list[UserError]]:
    """fileUpdate with product references: every file's references changed, or userErrors and nothing."""
    errors: list[UserError] = []
    planned: list[tuple[Media, list[Product], list[Product]]] = []
    for i, raw in enumerate(files):
        refuse_unknown("FileUpdateInput", raw, ("id", "alt", "referencesToAdd", "referencesToRemove"))
        at = ("files", str(i))
        found = state.file(raw["id"])
        if found is None:
            errors.append(_files_error((*at, "id"), f"File id {raw['id']} does not exist.", "FILE_DOES_NOT_EXIST"))
            continue
        if found.status == "FAILED":
            errors.append(_files_error(at, "File cannot be updated in a failed state.", "INVALID_FAILED_MEDIA_STATE"))
            continue
        if found.status != "READY":
            errors.append(_files_error(at, "The file is not in the READY state.", "NON_READY_STATE"))
            continue
        add = _references(state, raw.get("referencesToAdd") or [], (*at, "referencesToAdd"), errors)
        remove = _references(state, raw.get("referencesToRemove") or [], (*at, "referencesToRemove"), errors)
        for j, product in enumerate(remove):
            if product is not None and all(m.id != found.id for m in product.media):
                message = f"The file is not referenced by product {product.gid}."
                errors.append(_files_error((*at, "referencesToRemove", str(j)), message, "INVALID"))
        planned.append((found, [p for p in add if p is not None], [p for p in remove if p is not None]))
    if errors:
        return None, errors
    for (found, add, remove), raw in zip(planned, files, strict=True):
        if "alt" in raw:
            found.alt = raw["alt"]
        for product in remove:
            _change(state, product, [m for m in product.media if m.id != found.id])
        for product in add:
            if all(m.id != found.id for m in product.media):
                _change(state, product, [*product.media, found])
        if any(m.id == found.id for p in state.products.values() for m in p.media):
            state.library.pop(found.id, None)
        else:
            state.library[found.id] = found
    return [found for found, _, _ in planned], []


def _references(
    state: ShopState, ids: Sequence[str], at: tuple[str, ...], errors: list[UserError]
) -> list[Product | None]:
    """The products named as references (product ids only, as the SDL says); an unknown one is an error."""
    found: list[Product | None] = []
    for j, reference in enumerate(ids):
        kind, _ = parse_gid(reference)
        if kind != "Product":
            raise not_implemented(f"file references to {kind}")
        product = state.product(reference)
        if product is None:
            message = f"The reference target {reference} does not exist."
            errors.append(_files_error((*at, str(j)), message, "REFERENCE_TARGET_DOES_NOT_EXIST"))
        found.append(product)
    return found


def _change(state: ShopState, product: Product, media: list[Media]) -> None:
    before = copy.deepcopy(product)
    product.media = media
    commit(state, product, before, notify=True)


def delete_files(state: ShopState, ids: Sequence[str]) -> tuple[list[str] | None, list[UserError]]:
    """fileDelete: every file gone from the shop and its products, or userErrors and none."""
    errors = [
        _files_error(("fileIds", str(i)), f"File id {file_id} does not exist.", "FILE_DOES_NOT_EXIST")
        for i, file_id in enumerate(ids)
        if state.file(file_id) is None
    ]
    if errors:
        return None, errors
    numbers = {parse_gid(file_id)[1] for file_id in ids}
    for product in list(state.products.values()):
        if any(m.id in numbers for m in product.media):
            _change(state, product, [m for m in product.media if m.id not in numbers])
    for number in numbers:
        state.library.pop(number, None)
    return list(dict.fromkeys(ids)), []


def reorder_media(
    state: ShopState, product_gid: str, moves: Sequence[Mapping[str, Any]]
) -> tuple[Job | None, list[UserError]]:
    """productReorderMedia: the moves checked now, applied by the Job answered (`done: false`) when it runs."""
    product = state.product(product_gid)
    if product is None:
        return None, [user_error(("id",), "Product does not exist", "PRODUCT_DOES_NOT_EXIST")]
    errors: list[UserError] = []
    planned: list[tuple[int, int]] = []
    for i, move in enumerate(moves):
        kind, number = parse_gid(move["id"])
        position = str(move["newPosition"])
        if not position.isdigit():
            errors.append(user_error(("moves", str(i), "newPosition"), "New position is invalid", "INVALID"))
        elif kind != "MediaImage" or all(m.id != number for m in product.media):
            message = f"Media id {move['id']} does not exist on product"
            errors.append(user_error(("moves", str(i), "id"), message, "MEDIA_DOES_NOT_EXIST_ON_PRODUCT"))
        else:
            planned.append((number, int(position)))
    if errors:
        return None, errors
    product_id = product.id

    def run() -> None:
        current = state.products.get(product_id)
        if current is None:
            return
        media = list(current.media)
        for number, position in planned:
            moved = next((m for m in media if m.id == number), None)
            if moved is None:  # removed meanwhile: nothing left to move
                continue
            media.remove(moved)
            media.insert(min(position, len(media)), moved)
        _change(state, current, media)

    job = Job(state.next_id(), run)
    state.jobs[job.id] = job
    return job, []
