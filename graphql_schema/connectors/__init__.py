"""Connectors over GraphQL."""
