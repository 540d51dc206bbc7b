"""target-parquet: Singer records to Parquet file sets (pyarrow, imported only when the target runs)."""
