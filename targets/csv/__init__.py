"""target-csv: Singer records to CSV files."""
