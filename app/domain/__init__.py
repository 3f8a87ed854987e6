"""Pure logic, no I/O: error codes, locale chains, value validation."""
