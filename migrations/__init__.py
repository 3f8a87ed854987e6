"""Alembic migrations: every table the service uses is created here."""
