"""The public GraphQL API. `schema` (default limits) is for tooling: SDL export, the contract check."""

from graphql_schema.schema import build_schema

schema = build_schema()

__all__ = ["build_schema", "schema"]
