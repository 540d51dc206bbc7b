"""target-sqlite: the embedded default destination."""
