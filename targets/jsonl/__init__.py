"""target-jsonl: Singer records to JSON Lines files."""
