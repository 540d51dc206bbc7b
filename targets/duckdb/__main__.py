"""target-duckdb: the embedded analytical destination."""
from targets.duckdb.target import main

main()
