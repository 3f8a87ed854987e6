"""Sync use cases: triggering and managing jobs, planning them into chunks, running chunks, recovery."""
