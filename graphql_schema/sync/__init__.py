"""Sync jobs over GraphQL: trigger, follow, cancel, retry, and what each job changed."""
