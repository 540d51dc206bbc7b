"""tap-gitlab: projects (configured, and those of configured groups) and their issues, merge
requests, commits, pipelines and users; merge request commits, extended pipelines and the
instance's users on request.

Its settings are in :mod:`taps.gitlab.settings`.
"""

from __future__ import annotations

from typing import Any, ClassVar

from protocol import Bookmarks, Catalog, MessageWriter, Tap, tap_main
from taps.gitlab.client import GitLabClient, project_ref
from taps.gitlab.settings import SETTINGS, GitLabSettings
from taps.gitlab.streams import OPT_IN, STREAM_TYPES, GitLabStream

__all__ = ["TapGitLab", "main"]


class TapGitLab(Tap):
    name = "tap-gitlab"
    description = ("Singer tap for GitLab (gitlab.com or self-managed): projects, issues, merge requests, "
                   "commits, pipelines and users.")
    settings_schema: ClassVar[dict[str, Any]] = SETTINGS

    def __init__(self, config: dict[str, Any]) -> None:
        super().__init__(config)
        self.settings = GitLabSettings.from_config(self.config)
        self.client = GitLabClient(self.settings)
        self._projects: list[dict[str, Any]] | None = None

    def streams(self) -> list[GitLabStream]:  # type: ignore[override]
        return [cls(self) for cls in STREAM_TYPES
                if cls.name not in OPT_IN or getattr(self.settings, OPT_IN[cls.name])]

    def projects(self) -> list[dict[str, Any]]:
        """The configured projects, then those of the configured groups; each once, read once per run."""
        if self._projects is None:
            found: dict[int, dict[str, Any]] = {}
            for ref in self.settings.projects:
                project = self.client.project(ref)
                found.setdefault(project["id"], project)
            params = {"include_subgroups": "true", "with_shared": "false"}  # archived ones too
            for group in self.settings.groups:
                path = f"/groups/{project_ref(group)}/projects"
                for rows in self.client.keyset_pages(path, "/groups/:id/projects", params):
                    for project in rows:
                        found.setdefault(project["id"], project)
            self._projects = list(found.values())
        return self._projects

    def test_connection(self) -> str:
        try:
            if self.settings.projects:
                first = self.settings.projects[0]
                name = self.client.project(first).get("path_with_namespace", first)
            else:
                first = self.settings.groups[0]
                name = self.client.get(f"/groups/{project_ref(first)}", "/groups/:id").get("full_path", first)
        finally:
            self.client.close()
        return f"token accepted; {name} is readable"

    def sync(self, catalog: Catalog, bookmarks: Bookmarks, writer: MessageWriter) -> None:
        try:
            super().sync(catalog, bookmarks, writer)
        finally:
            self.client.close()


main = tap_main(TapGitLab)
