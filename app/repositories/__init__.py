"""Every SQL query of the service, each scoped by tenant."""
