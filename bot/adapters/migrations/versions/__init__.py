"""Alembic revisions of the bot's schema, oldest first: `NNNN_what.py` with revision id "NNNN"."""
