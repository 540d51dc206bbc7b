"""target-parquet: Singer records to Parquet files."""
from targets.parquet.target import main

main()
