"""target-duckdb: loads Singer streams into a DuckDB database file."""
