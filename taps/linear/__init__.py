"""tap-linear: issues, projects, teams, users and cycles from Linear's GraphQL API."""
