"""tap-gitlab: projects, issues, merge requests, commits, pipelines and users from the GitLab REST API (v4)."""
