"""When two values of a field are the same for the three-way check (pure): a channel's reformatting is no change.

Every conflict and drift the service reports starts from `same`: were it too
strict, each shop that stores "115.0" for "115.00" or re-indents HTML would
raise a conflict on every sync; too loose, a real edit would be missed.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from app.domain.channels import FieldType
from app.domain.conflicts import (
    MISSING,
    Action,
    Decision,
    Outcome,
    Resolution,
    ResolutionStatus,
    Slot,
    choice_for,
    classify,
    copied,
    decide,
    decide_chosen,
    pim_is_newer,
    read,
    same,
    status_for,
    write,
)
from app.domain.connectors import ConflictStrategy
from app.domain.mappings import MappingDirection

F = FieldType


@pytest.mark.parametrize(
    ("field_type", "left", "right"),
    [
        (F.DECIMAL, "115.00", "115.0"),
        (F.DECIMAL, "115", "1.15E+2"),
        (F.DECIMAL, " 9.90", 9.9),
        (F.DECIMAL, "sur  devis", "sur devis"),  # a number field holding text compares as text
        (F.DECIMAL, "NaN", "NaN"),  # as does one holding NaN, which as a number is not equal to itself
        (F.INTEGER, "Infinity", "Infinity"),
        (F.DECIMAL, "1e999999999", " 1e999999999"),  # beyond Decimal's exponents: as text
        (F.INTEGER, 3, "3"),
        (F.BOOLEAN, True, "true"),
        (F.BOOLEAN, False, "no"),
        (F.HTML, "<p>Chêne</p>\n  <p>massif</p>", "<p>Chêne</p><p>massif</p>"),
        (F.HTML, "un<br/>deux", "un<br>deux"),
        (F.HTML, "un<br />deux", "un<br>deux"),
        (F.STRING_LIST, ["lin", "coton"], ["coton", "lin"]),
        (F.STRING_LIST, "coton, lin", ["lin", "coton"]),
        (F.STRING_LIST, ["lin", "lin"], ["lin"]),
        (F.STRING, " Cafe\u0301  crème ", "Café crème"),
        (F.STRING, "كرسي  بلوط", "كرسي بلوط"),
        (F.STRING, "", None),
        (F.STRING_LIST, [], None),
    ],
)
def test_a_channels_reformatting_is_the_same_value(field_type: FieldType, left: Any, right: Any) -> None:
    assert same(field_type, left, right) and same(field_type, right, left)


@pytest.mark.parametrize(
    ("field_type", "left", "right"),
    [
        (F.DECIMAL, "115.00", "115.01"),
        (F.INTEGER, 3, "4"),
        (F.BOOLEAN, True, False),
        (F.BOOLEAN, "true", "false"),
        (F.HTML, "<p>Chêne</p>", "<p>Hêtre</p>"),
        (F.HTML, "<p>un deux</p>", "<p>un</p><p>deux</p>"),
        (F.STRING_LIST, ["lin"], ["lin", "coton"]),
        (F.STRING, "Café", "Cafe"),
        (F.STRING, "كرسي", "كرسى"),
        (F.STRING, "Chaise", ""),
        (F.DECIMAL, "0", None),
        (F.DECIMAL, "sur devis", None),
        (F.DECIMAL, "sur devis", "épuisé"),
        (F.INTEGER, "NaN", "12"),
    ],
)
def test_an_edit_is_a_different_value(field_type: FieldType, left: Any, right: Any) -> None:
    assert not same(field_type, left, right) and not same(field_type, right, left)


# The three-way table (DESIGN.md, Conflicts) for one slot, and what each connector strategy makes of its outcome.

_EXPORTS = Slot("title", "fr_FR", "fr_FR", "name", MappingDirection.EXPORT, F.STRING)
_BOTH = Slot("title", "fr_FR", "fr_FR", "name", MappingDirection.BOTH, F.STRING)
_PRICE = Slot("price", None, None, "price", MappingDirection.EXPORT, F.DECIMAL)


@pytest.mark.parametrize(
    ("slot", "pim", "sent", "base", "channel", "outcome"),
    [
        # pim vs sent | channel vs base
        (_EXPORTS, "Chaise", "Chaise", "Chaise", "Chaise", Outcome.NOTHING),  # same | same
        (_EXPORTS, "Chaise", "Chaise", "Chaise", " Chaise ", Outcome.NOTHING),  # same | reformatted
        (_PRICE, "9.90", "9.90", "9.90", "9.9", Outcome.NOTHING),
        (_EXPORTS, "Fauteuil", "Chaise", "Chaise", "Chaise", Outcome.EXPORT),  # changed | same
        (_EXPORTS, "Chaise", MISSING, "Chaise", "Chaise", Outcome.EXPORT),  # never sent counts as changed
        (_EXPORTS, "Chaise", "Chaise", "Chaise", "Tabouret", Outcome.DRIFT),  # same | changed
        (_EXPORTS, "Fauteuil", "Chaise", "Chaise", "Fauteuil", Outcome.CONVERGED),  # changed | changed to pim
        (_EXPORTS, "Fauteuil", "Chaise", "Chaise", "Tabouret", Outcome.CONFLICT),  # changed | changed, differs
        # no base yet (linked by SKU): the channel has not changed, the values converge or the PIM's goes out
        (_EXPORTS, "Chaise", MISSING, MISSING, "Chaise", Outcome.CONVERGED),
        (_EXPORTS, "Chaise", "Chaise", MISSING, "Tabouret", Outcome.EXPORT),
        # the PIM has nothing to say: only the channel side counts
        (_BOTH, MISSING, MISSING, MISSING, None, Outcome.NOTHING),
        (_BOTH, MISSING, MISSING, MISSING, "Tabouret", Outcome.DRIFT),
        (_EXPORTS, MISSING, MISSING, MISSING, "Tabouret", Outcome.CONVERGED),
        (_BOTH, MISSING, MISSING, "Tabouret", "Tabouret ", Outcome.NOTHING),
        (_BOTH, MISSING, MISSING, "Tabouret", "Chaise", Outcome.DRIFT),
        (_EXPORTS, MISSING, MISSING, "Tabouret", "Chaise", Outcome.CONVERGED),
    ],
)
def test_the_three_way_table(slot: Slot, pim: Any, sent: Any, base: Any, channel: Any, outcome: Outcome) -> None:
    assert classify(slot, pim=pim, sent=sent, base=base, channel=channel) is outcome


_NEVER_ASKED = object()


def _decide(slot: Slot, outcome: Outcome, strategy: ConflictStrategy, newer: object) -> Decision:
    def pim_newer() -> bool | None:
        assert newer is not _NEVER_ASKED, "only NEWEST_WINS compares modification times"
        return newer  # type: ignore[return-value]

    return decide(slot, outcome, strategy, pim_newer=pim_newer)


S, A, R = ConflictStrategy, Action, ResolutionStatus


@pytest.mark.parametrize("strategy", list(ConflictStrategy))
@pytest.mark.parametrize(
    ("slot", "outcome", "decision"),
    [
        (_EXPORTS, Outcome.NOTHING, Decision(A.NONE)),
        (_EXPORTS, Outcome.EXPORT, Decision(A.SEND)),
        (_EXPORTS, Outcome.CONVERGED, Decision(A.KEEP)),
        (_BOTH, Outcome.DRIFT, Decision(A.IMPORT)),
    ],
)
def test_outcomes_no_strategy_decides(
    slot: Slot, outcome: Outcome, strategy: ConflictStrategy, decision: Decision
) -> None:
    assert _decide(slot, outcome, strategy, _NEVER_ASKED) == decision


@pytest.mark.parametrize(
    ("slot", "outcome", "strategy", "newer", "decision"),
    [
        (_EXPORTS, Outcome.CONFLICT, S.PIM_WINS, _NEVER_ASKED, Decision(A.SEND, R.PIM_WINS)),
        (_EXPORTS, Outcome.DRIFT, S.PIM_WINS, _NEVER_ASKED, Decision(A.SEND, R.PIM_WINS)),
        (_EXPORTS, Outcome.CONFLICT, S.CHANNEL_WINS, _NEVER_ASKED, Decision(A.KEEP, R.CHANNEL_WINS)),
        (_BOTH, Outcome.CONFLICT, S.CHANNEL_WINS, _NEVER_ASKED, Decision(A.IMPORT, R.CHANNEL_WINS)),
        (_EXPORTS, Outcome.DRIFT, S.CHANNEL_WINS, _NEVER_ASKED, Decision(A.KEEP, R.CHANNEL_WINS)),
        (_EXPORTS, Outcome.CONFLICT, S.MANUAL, _NEVER_ASKED, Decision(A.HOLD, R.PENDING)),
        (_EXPORTS, Outcome.DRIFT, S.MANUAL, _NEVER_ASKED, Decision(A.HOLD, R.PENDING)),
        (_EXPORTS, Outcome.CONFLICT, S.NEWEST_WINS, True, Decision(A.SEND, R.PIM_WINS)),
        (_BOTH, Outcome.CONFLICT, S.NEWEST_WINS, False, Decision(A.IMPORT, R.CHANNEL_WINS)),
        (_EXPORTS, Outcome.DRIFT, S.NEWEST_WINS, False, Decision(A.KEEP, R.CHANNEL_WINS)),
        (_EXPORTS, Outcome.CONFLICT, S.NEWEST_WINS, None, Decision(A.HOLD, R.PENDING)),
    ],
)
def test_the_strategy_decides_a_conflict_and_drift_an_export_mapping_cannot_take_in(
    slot: Slot, outcome: Outcome, strategy: ConflictStrategy, newer: object, decision: Decision
) -> None:
    assert _decide(slot, outcome, strategy, newer) == decision


_NOON = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("pim_modified", "channel_modified", "newer"),
    [
        (_NOON + timedelta(seconds=1), _NOON, True),
        (_NOON, _NOON + timedelta(seconds=1), False),
        (_NOON, _NOON, False),  # a tie goes to the channel
        (None, _NOON, None),
        (_NOON, None, None),
    ],
)
def test_newest_wins_compares_modification_times_and_a_tie_goes_to_the_channel(
    pim_modified: datetime | None, channel_modified: datetime | None, newer: bool | None
) -> None:
    assert pim_is_newer(pim_modified, channel_modified) is newer


@pytest.mark.parametrize(
    ("slot", "choice", "action"),
    [
        (_EXPORTS, Resolution.PIM_WINS, A.SEND),
        (_EXPORTS, Resolution.CHANNEL_WINS, A.KEEP),
        (_BOTH, Resolution.CHANNEL_WINS, A.IMPORT),
        (_BOTH, Resolution.DISMISSED, A.KEEP),
    ],
)
def test_a_persons_choice_for_a_slot(slot: Slot, choice: Resolution, action: Action) -> None:
    assert decide_chosen(slot, choice) == Decision(action)


_CHOSEN = {
    "resolution": "PIM_WINS",
    "overrides": [
        {"field": "title", "resolution": "CHANNEL_WINS", "locales": ["fr_FR", "de_DE"]},
        {"field": "body", "resolution": "DISMISSED", "locales": None},
        {"field": "title", "resolution": "DISMISSED", "locales": ["de_DE"]},
    ],
}


@pytest.mark.parametrize(
    ("stored", "field", "pim_locale", "choice"),
    [
        (_CHOSEN, "title", "fr_FR", Resolution.CHANNEL_WINS),
        (_CHOSEN, "title", "de_DE", Resolution.DISMISSED),  # the last override naming the slot wins
        (_CHOSEN, "title", "en_US", Resolution.PIM_WINS),  # a locale no override names: the overall choice
        (_CHOSEN, "body", "en_US", Resolution.DISMISSED),  # an override for every locale
        (_CHOSEN, "body", None, Resolution.DISMISSED),
        (_CHOSEN, "price", None, Resolution.PIM_WINS),
        ({"resolution": "CHANNEL_WINS"}, "title", "fr_FR", Resolution.CHANNEL_WINS),
        ({"resolution": "CHANNEL_WINS", "overrides": None}, "title", None, Resolution.CHANNEL_WINS),
    ],
)
def test_the_choice_for_a_field_and_locale(
    stored: dict[str, Any], field: str, pim_locale: str | None, choice: Resolution
) -> None:
    assert choice_for(stored, field, pim_locale) is choice


def test_a_resolution_with_overrides_shows_as_merged() -> None:
    assert status_for(Resolution.CHANNEL_WINS, overridden=True) is ResolutionStatus.MERGED
    assert status_for(Resolution.CHANNEL_WINS, overridden=False) is ResolutionStatus.CHANNEL_WINS
    assert status_for(Resolution.DISMISSED, overridden=False) is ResolutionStatus.DISMISSED


def test_writing_a_copied_snapshot_leaves_the_stored_one_as_it_was() -> None:
    """The sync moves a listing's snapshots slot by slot on a copy: the stored ones stay as they were until it
    is done, shared fields and localized ones alike; MISSING takes a slot out."""
    stored = {"fields": {"price": "9.90"}, "locales": {"fr_FR": {"title": "Chaise"}}}
    snapshot = copied(stored)
    write(snapshot, _PRICE, "12.00")
    write(snapshot, _EXPORTS, MISSING)
    write(snapshot, replace(_EXPORTS, channel_locale="ar_AE"), "كرسي")
    assert stored == {"fields": {"price": "9.90"}, "locales": {"fr_FR": {"title": "Chaise"}}}
    assert snapshot == {"fields": {"price": "12.00"}, "locales": {"fr_FR": {}, "ar_AE": {"title": "كرسي"}}}
    assert read(snapshot, _PRICE) == "12.00" and read(snapshot, _EXPORTS) is MISSING
