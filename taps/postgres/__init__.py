"""tap-postgres: PostgreSQL tables and views as Singer streams (see tap.py)."""
