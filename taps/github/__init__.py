"""tap-github: repositories, issues, pull requests, commits and issue comments from the GitHub REST API."""
