"""The `pimsync` command line."""
