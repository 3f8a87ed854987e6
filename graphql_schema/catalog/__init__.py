"""The catalog over GraphQL: locales, scopes, currencies, attributes, products."""
