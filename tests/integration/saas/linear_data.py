"""Linear-shaped records for the loopback server (shapes from Linear's GraphQL schema, values made up).

Every record has every field the server can be asked for; times are Linear's
(``2024-01-01T00:00:00.000Z``). Issues whose number is a multiple of 97 are archived.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

__all__ = ["ARCHIVED_EVERY", "ROOTS", "seed_data", "stamp"]

ROOTS = ("issues", "projects", "teams", "users", "cycles")
ARCHIVED_EVERY = 97
BASE = datetime(2024, 1, 1, tzinfo=UTC)
ORG = {"id": "org-0001", "name": "Acme"}
STATES = [("Backlog", "backlog", "#bec2c8"), ("Todo", "unstarted", "#e2e2e2"), ("In Progress", "started", "#f2c94c"),
          ("Done", "completed", "#5e6ad2"), ("Canceled", "canceled", "#95a2b3")]
PRIORITIES = ["No priority", "Urgent", "High", "Medium", "Low"]


def stamp(minutes: float) -> str:
    return (BASE + timedelta(minutes=minutes)).strftime("%Y-%m-%dT%H:%M:%S.") + "000Z"


def _id(kind: str, n: int) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"linear/{kind}/{n}"))


def _times(n: int, updated: int) -> dict[str, Any]:
    return {"createdAt": stamp(n), "updatedAt": stamp(updated), "archivedAt": None}


def team(n: int) -> dict[str, Any]:
    key = ["ENG", "DES", "OPS", "SUP", "MKT"][n % 5] + ("" if n < 5 else str(n))
    return {"id": _id("team", n), "key": key, "name": f"Team {key}", "description": None if n % 2 else "Builds",
            "color": "#5e6ad2", "icon": None, "private": False, "timezone": "Europe/Amsterdam", **_times(n, 10 + n),
            "cyclesEnabled": True, "cycleDuration": 2.0, "cycleCooldownTime": 0.0, "cycleStartDay": 1.0,
            "upcomingCycleCount": 2.0, "issueCount": 0, "autoArchivePeriod": 6.0, "autoClosePeriod": None,
            "defaultIssueEstimate": 1.0, "triageEnabled": n == 0, "organization": ORG}


def user(n: int) -> dict[str, Any]:
    return {"id": _id("user", n), "name": f"User {n}", "displayName": f"user{n}", "email": f"user{n}@example.com",
            "avatarUrl": None if n % 3 else f"https://avatars.example.com/{n}.png", "active": n % 7 != 6,
            "admin": n == 0, "guest": n % 11 == 10, "isMe": n == 0, "description": None, "timezone": "UTC",
            "statusEmoji": None, "statusLabel": None, "statusUntilAt": None, "lastSeen": stamp(5000 + n),
            **_times(n, 20 + n), "createdIssueCount": n * 3, "url": f"https://linear.app/acme/profiles/user{n}",
            "disableReason": None, "organization": ORG}


def _ref(u: dict[str, Any] | None) -> dict[str, Any] | None:
    return None if u is None else {"id": u["id"], "name": u["name"], "email": u["email"]}


def project(n: int, users: list[dict[str, Any]]) -> dict[str, Any]:
    return {"id": _id("project", n), "name": f"Project {n}", "description": "", "slugId": f"{n:08x}",
            "url": f"https://linear.app/acme/project/project-{n}-{n:08x}", "color": "#bec2c8", "icon": None,
            "state": ["backlog", "planned", "started", "paused", "completed", "canceled"][n % 6],
            "priority": n % 5, "progress": round((n % 10) / 10, 2), "scope": float(n * 4),
            "health": [None, "onTrack", "atRisk", "offTrack"][n % 4], "startDate": "2024-01-15",
            "targetDate": None if n % 2 else "2024-06-30", **_times(n, 30 + n), "startedAt": stamp(100 + n),
            "completedAt": None, "canceledAt": None, "lead": _ref(users[n % len(users)] if n % 3 else None),
            "creator": _ref(users[0])}


def cycle(n: int, teams: list[dict[str, Any]]) -> dict[str, Any]:
    t = teams[n % len(teams)]
    return {"id": _id("cycle", n), "number": float(n + 1), "name": None if n % 2 else f"Sprint {n + 1}",
            "description": None, "startsAt": stamp(n * 20160), "endsAt": stamp((n + 1) * 20160),
            "completedAt": None, "autoArchivedAt": None, **_times(n, 40 + n), "progress": 0.5, "isActive": n == 0,
            "isFuture": n > 0, "isPast": False, "isNext": n == 1, "isPrevious": False,
            "team": {"id": t["id"], "key": t["key"], "name": t["name"]}}


def issue(n: int, teams: list[dict[str, Any]], users: list[dict[str, Any]], projects: list[dict[str, Any]],
          cycles: list[dict[str, Any]]) -> dict[str, Any]:
    t = teams[n % len(teams)]
    name, kind, color = STATES[n % len(STATES)]
    number = n + 1
    assignee = users[n % len(users)] if n % 4 else None
    proj = projects[n % len(projects)] if projects and n % 3 == 0 else None
    cyc = cycles[n % len(cycles)] if cycles and n % 5 == 0 else None
    record = {
        "id": _id("issue", n), "identifier": f"{t['key']}-{number}", "number": float(number),
        "title": f"Issue {number}", "description": None if n % 2 else f"Steps to reproduce {number}\n- one",
        "priority": float(n % 5), "priorityLabel": PRIORITIES[n % 5], "estimate": None if n % 3 else 2.0,
        "url": f"https://linear.app/acme/issue/{t['key'].lower()}-{number}/issue-{number}",
        "branchName": f"user/{t['key'].lower()}-{number}-issue-{number}", **_times(n, 60 + n),
        "startedAt": stamp(70 + n) if kind in ("started", "completed") else None,
        "completedAt": stamp(80 + n) if kind == "completed" else None,
        "canceledAt": stamp(80 + n) if kind == "canceled" else None, "autoClosedAt": None, "autoArchivedAt": None,
        "dueDate": None if n % 4 else "2024-03-01", "trashed": None, "sortOrder": float(-n),
        "customerTicketCount": 0, "labelIds": [_id("label", n % 6)] if n % 2 else [],
        "team": {"id": t["id"], "key": t["key"], "name": t["name"]},
        "state": {"id": _id("state", n % len(STATES)), "name": name, "type": kind, "color": color},
        "assignee": _ref(assignee), "creator": _ref(users[0]),
        "project": None if proj is None else {"id": proj["id"], "name": proj["name"]},
        "cycle": None if cyc is None else {"id": cyc["id"], "number": cyc["number"], "name": cyc["name"]},
        "parent": None,
    }
    if number % ARCHIVED_EVERY == 0:
        record["archivedAt"] = stamp(90 + n)
    return record


def seed_data(*, issues: int = 120, projects: int = 8, teams: int = 3, users: int = 12,
              cycles: int = 6) -> dict[str, list[dict[str, Any]]]:
    t = [team(n) for n in range(teams)]
    u = [user(n) for n in range(users)]
    p = [project(n, u) for n in range(projects)]
    c = [cycle(n, t) for n in range(cycles)]
    return {"teams": t, "users": u, "projects": p, "cycles": c,
            "issues": [issue(n, t, u, p, c) for n in range(issues)]}
