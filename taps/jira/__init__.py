"""tap-jira: projects, issues, issue comments, changelogs, users, boards and sprints from Jira Cloud (REST v3)."""
