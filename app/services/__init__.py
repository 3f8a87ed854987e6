"""Use cases: one method per thing a user does. Services flush, never commit."""
