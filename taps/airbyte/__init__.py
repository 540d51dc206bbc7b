"""tap-airbyte: any Airbyte source program as a Singer tap."""
