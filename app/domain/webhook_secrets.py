"""The webhook secret a credentials update replaced, kept for a grace period so deliveries signed with it still verify.

A user changes the secret in the connector and at the channel, rarely at the
same moment, and deliveries already sent or waiting for a retry may carry the
old signature: Shopify retries a failed delivery 8 times over 4 hours (and
removes a subscription that keeps failing), and its guide to rotating an app's
client secret ("Rotate or revoke client credentials") says to accept webhooks
signed with either secret until the old one is revoked. Services that rotate
their own signing secrets commonly keep the old one valid for a day (OpenAI's
keepOldSecretActiveFor24Hours).
Pure: the caller gives the time and the grace.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any


@dataclass(frozen=True, slots=True)
class RetiredSecret:
    """A webhook secret the connector's credentials no longer hold, and the grace it was given when replaced."""

    secret: str = field(repr=False)
    """Never in its printout: a log line or error naming the retired secret's dates must not carry it."""
    retired_at: datetime
    until: datetime
    """The end of the grace it was given; a shorter grace configured since ends it sooner, a longer one never
    brings it back."""

    def ends(self, grace: timedelta) -> datetime:
        """When it stops verifying deliveries, under the grace configured now."""
        return min(self.until, self.retired_at + grace)

    def verifies_at(self, now: datetime, grace: timedelta) -> bool:
        return now < self.ends(grace)

    def as_json(self) -> dict[str, str]:
        return {"secret": self.secret, "retiredAt": self.retired_at.isoformat(), "until": self.until.isoformat()}

    @classmethod
    def from_json(cls, value: Any) -> RetiredSecret | None:
        """The secret `as_json` wrote; None for anything else, which then verifies nothing."""
        if not isinstance(value, dict):
            return None
        secret, retired_at, until = value.get("secret"), value.get("retiredAt"), value.get("until")
        if not (isinstance(secret, str) and secret and isinstance(retired_at, str) and isinstance(until, str)):
            return None
        try:
            return cls(secret, datetime.fromisoformat(retired_at), datetime.fromisoformat(until))
        except ValueError:
            return None


def retired_by_update(
    *, before: str | None, after: str | None, kept: RetiredSecret | None, now: datetime, grace: timedelta
) -> RetiredSecret | None:
    """The secret to keep verifying with once credentials holding webhook secret `before` (with `kept` retired
    earlier) are replaced by credentials holding `after`.

    - No secret after: none. A user who removes the secret wants deliveries refused at once.
    - A new secret: `before`, for `grace` from `now`. Only the secret just replaced is kept, so rotating twice
      ends the grace of the first at once (as a user who rotates because a secret leaked expects).
    - The same secret (other credentials changed): `kept`, its grace neither ended nor restarted.
    """
    if after is None or grace <= timedelta(0):
        return None
    if before is not None and before != after:
        return RetiredSecret(before, now, now + grace)
    if before is not None and kept is not None and kept.secret != after and kept.verifies_at(now, grace):
        return kept
    return None
