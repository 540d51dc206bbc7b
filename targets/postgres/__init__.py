"""target-postgres: COPY into a staging table, merge by key, one transaction per batch."""
