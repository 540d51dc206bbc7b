"""tap-rest: a generic REST API tap, configured entirely in its config file."""
