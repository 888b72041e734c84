"""Alembic migrations, shipped inside the package so the installed CLI can run them."""
