"""The Linear streams' fields, once: each stream's JSON Schema and its GraphQL selection are both
made from the table below (types as Linear's GraphQL schema declares them: ``String!`` is a
string, ``Float`` a nullable number, ``DateTime`` an ISO 8601 date-time, ``TimelessDate`` a date).
"""

from __future__ import annotations

from typing import Any

__all__ = ["FIELDS", "SCHEMAS", "selection"]

Field = dict[str, Any]


def _t(kind: str, null: bool = True, **extra: Any) -> Field:
    return {"type": [kind, "null"] if null else kind, **extra}


ID, STR, STR_ = _t("string", False), _t("string", False), _t("string")
NUM, NUM_ = _t("number", False), _t("number")
INT = _t("integer", False)
BOOL, BOOL_ = _t("boolean", False), _t("boolean")
TIME, TIME_ = _t("string", False, format="date-time"), _t("string", format="date-time")
DATE_ = _t("string", format="date")


def _obj(null: bool = True, **properties: Field) -> Field:
    return {"type": ["object", "null"] if null else "object", "properties": properties}


USER_REF = _obj(id=ID, name=STR, email=STR)
TEAM_REF = _obj(False, id=ID, key=STR, name=STR)
ORG_REF = _obj(False, id=ID, name=STR)
TIMES = {"createdAt": TIME, "updatedAt": TIME, "archivedAt": TIME_}

#: per stream: its root query field, its GraphQL filter type, and its fields
FIELDS: dict[str, tuple[str, str, dict[str, Field]]] = {
    "issues": ("issues", "IssueFilter", {
        "id": ID, "identifier": STR, "number": NUM, "title": STR, "description": STR_, "priority": NUM,
        "priorityLabel": STR, "estimate": NUM_, "url": STR, "branchName": STR, **TIMES,
        "startedAt": TIME_, "completedAt": TIME_, "canceledAt": TIME_, "autoClosedAt": TIME_,
        "autoArchivedAt": TIME_, "dueDate": DATE_, "trashed": BOOL_, "sortOrder": NUM,
        "customerTicketCount": INT, "labelIds": {"type": "array", "items": {"type": "string"}},
        "team": TEAM_REF, "state": _obj(False, id=ID, name=STR, type=STR, color=STR),
        "assignee": USER_REF, "creator": USER_REF, "project": _obj(id=ID, name=STR),
        "cycle": _obj(id=ID, number=NUM, name=STR_), "parent": _obj(id=ID, identifier=STR),
    }),
    "projects": ("projects", "ProjectFilter", {
        "id": ID, "name": STR, "description": STR, "slugId": STR, "url": STR, "color": STR, "icon": STR_,
        "state": STR, "priority": INT, "progress": NUM, "scope": NUM, "health": STR_, "startDate": DATE_,
        "targetDate": DATE_, **TIMES, "startedAt": TIME_, "completedAt": TIME_, "canceledAt": TIME_,
        "lead": USER_REF, "creator": USER_REF,
    }),
    "teams": ("teams", "TeamFilter", {
        "id": ID, "key": STR, "name": STR, "description": STR_, "color": STR_, "icon": STR_, "private": BOOL,
        "timezone": STR, **TIMES, "cyclesEnabled": BOOL, "cycleDuration": NUM, "cycleCooldownTime": NUM,
        "cycleStartDay": NUM, "upcomingCycleCount": NUM, "issueCount": INT, "autoArchivePeriod": NUM,
        "autoClosePeriod": NUM_, "defaultIssueEstimate": NUM, "triageEnabled": BOOL, "organization": ORG_REF,
    }),
    "users": ("users", "UserFilter", {
        "id": ID, "name": STR, "displayName": STR, "email": STR, "avatarUrl": STR_, "active": BOOL,
        "admin": BOOL, "guest": BOOL, "isMe": BOOL, "description": STR_, "timezone": STR_, "statusEmoji": STR_,
        "statusLabel": STR_, "statusUntilAt": TIME_, "lastSeen": TIME_, **TIMES, "createdIssueCount": INT,
        "url": STR, "disableReason": STR_, "organization": ORG_REF,
    }),
    "cycles": ("cycles", "CycleFilter", {
        "id": ID, "number": NUM, "name": STR_, "description": STR_, "startsAt": TIME, "endsAt": TIME,
        "completedAt": TIME_, "autoArchivedAt": TIME_, **TIMES, "progress": NUM, "isActive": BOOL,
        "isFuture": BOOL, "isPast": BOOL, "isNext": BOOL, "isPrevious": BOOL, "team": TEAM_REF,
    }),
}


def _schema(fields: dict[str, Field]) -> dict[str, Any]:
    return {"type": "object", "properties": fields}


SCHEMAS: dict[str, dict[str, Any]] = {name: _schema(fields) for name, (_, _, fields) in FIELDS.items()}


def selection(fields: dict[str, Field], only: set[str] | None = None) -> str:
    """The GraphQL selection of these fields (``only``: just those, ``id`` and ``updatedAt`` always)."""
    parts = []
    for name, field_type in fields.items():
        if only is not None and name not in only and name not in ("id", "updatedAt"):
            continue
        nested = field_type.get("properties")
        parts.append(f"{name} {{ {selection(nested)} }}" if nested else name)
    return " ".join(parts)
