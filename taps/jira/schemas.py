"""JSON Schemas of the Jira streams, from the Jira Cloud REST v3 and Agile 1.0 API references.

Issue ``fields`` lists the system fields; custom fields (``customfield_NNNNN``) pass as additional
properties. Rich text (descriptions, comment bodies) is Atlassian Document Format: an object.
``created``/``updated`` copied to the top level of issues are UTC (``...Z``), so that they compare.
"""

from __future__ import annotations

from typing import Any

__all__ = ["SCHEMAS"]


def _n(*types: str, **extra: Any) -> dict[str, Any]:
    return {"type": [*types, "null"], **extra}


STR, INT, BOOL, NUM = _n("string"), _n("integer"), _n("boolean"), _n("number")
TIME = _n("string", format="date-time")
DATE = _n("string", format="date")
ADF = _n("object", additionalProperties=True)  # Atlassian Document Format
AVATARS = _n("object", properties={k: STR for k in ("16x16", "24x24", "32x32", "48x48")})
USER = _n("object", properties={
    "self": STR, "accountId": STR, "accountType": STR, "emailAddress": STR, "avatarUrls": AVATARS,
    "displayName": STR, "active": BOOL, "timeZone": STR, "locale": STR})
NAMED = _n("object", properties={"self": STR, "id": STR, "name": STR, "description": STR, "iconUrl": STR})
STATUS = _n("object", properties={
    "self": STR, "id": STR, "name": STR, "description": STR, "iconUrl": STR,
    "statusCategory": _n("object", properties={"self": STR, "id": INT, "key": STR, "colorName": STR, "name": STR})})
ISSUE_TYPE = _n("object", properties={
    "self": STR, "id": STR, "name": STR, "description": STR, "iconUrl": STR, "subtask": BOOL,
    "hierarchyLevel": INT, "avatarId": INT, "entityId": STR})
PROJECT_REF = _n("object", properties={
    "self": STR, "id": STR, "key": STR, "name": STR, "projectTypeKey": STR, "simplified": BOOL, "avatarUrls": AVATARS})
ISSUE_REF = _n("object", properties={"id": STR, "key": STR, "self": STR, "fields": _n("object")})
VERSION = {"type": "object", "properties": {"self": STR, "id": STR, "name": STR, "description": STR,
                                            "archived": BOOL, "released": BOOL, "releaseDate": DATE}}
ISSUE_FIELDS = _n("object", additionalProperties=True, properties={
    "summary": STR, "description": ADF, "issuetype": ISSUE_TYPE, "project": PROJECT_REF, "status": STATUS,
    "priority": NAMED, "resolution": NAMED, "resolutiondate": TIME, "assignee": USER, "reporter": USER,
    "creator": USER, "created": TIME, "updated": TIME, "duedate": DATE, "labels": _n("array", items=STR),
    "components": _n("array", items=NAMED), "fixVersions": _n("array", items=VERSION),
    "versions": _n("array", items=VERSION), "parent": ISSUE_REF, "subtasks": _n("array", items=ISSUE_REF),
    "statuscategorychangedate": TIME, "lastViewed": TIME, "environment": ADF, "timeestimate": INT,
    "timeoriginalestimate": INT, "timespent": INT, "aggregatetimespent": INT,
    "votes": _n("object", properties={"self": STR, "votes": INT, "hasVoted": BOOL}),
    "watches": _n("object", properties={"self": STR, "watchCount": INT, "isWatching": BOOL}),
})
CHANGE_ITEM = {"type": "object", "properties": {
    "field": STR, "fieldtype": STR, "fieldId": STR, "from": STR, "fromString": STR, "to": STR, "toString": STR,
    "tmpFromAccountId": STR, "tmpToAccountId": STR}}


def _schema(properties: dict[str, Any], keys: list[str]) -> dict[str, Any]:
    props = dict(properties)
    for key in keys:
        props[key] = {"type": [t for t in props[key]["type"] if t != "null"], **(
            {"format": props[key]["format"]} if "format" in props[key] else {})}
    return {"type": "object", "properties": props}


SCHEMAS: dict[str, dict[str, Any]] = {
    "projects": _schema({
        "self": STR, "id": STR, "key": STR, "name": STR, "description": STR, "avatarUrls": AVATARS,
        "projectTypeKey": STR, "simplified": BOOL, "style": STR, "isPrivate": BOOL, "entityId": STR, "uuid": STR,
        "lead": USER, "url": STR, "email": STR, "archived": BOOL,
        "projectCategory": _n("object", properties={"self": STR, "id": STR, "name": STR, "description": STR}),
        "properties": _n("object", additionalProperties=True),
        "insight": _n("object", properties={"totalIssueCount": INT, "lastIssueUpdateTime": TIME}),
    }, ["id"]),
    "issues": _schema({
        "id": STR, "key": STR, "self": STR, "expand": STR, "created": TIME, "updated": TIME, "fields": ISSUE_FIELDS,
    }, ["id", "updated"]),
    "issue_comments": _schema({
        "id": STR, "self": STR, "author": USER, "updateAuthor": USER, "body": ADF, "renderedBody": STR,
        "created": TIME, "updated": TIME, "jsdPublic": BOOL,
        "visibility": _n("object", properties={"type": STR, "value": STR, "identifier": STR}),
        "properties": _n("array", items={"type": "object", "properties": {"key": STR}, "additionalProperties": True}),
        "issue_id": STR, "issue_key": STR, "issue_updated": TIME,
    }, ["id", "issue_updated"]),
    "issue_changelogs": _schema({
        "id": STR, "author": USER, "created": TIME, "items": _n("array", items=CHANGE_ITEM),
        "historyMetadata": _n("object", additionalProperties=True),
        "issue_id": STR, "issue_key": STR, "issue_updated": TIME,
    }, ["id", "issue_updated"]),
    "users": _schema({
        "self": STR, "accountId": STR, "accountType": STR, "emailAddress": STR, "avatarUrls": AVATARS,
        "displayName": STR, "active": BOOL, "timeZone": STR, "locale": STR,
    }, ["accountId"]),
    "boards": _schema({
        "id": INT, "self": STR, "name": STR, "type": STR, "isPrivate": BOOL,
        "location": _n("object", properties={
            "projectId": INT, "userId": INT, "userAccountId": STR, "displayName": STR, "projectName": STR,
            "projectKey": STR, "projectTypeKey": STR, "avatarURI": STR, "name": STR}),
    }, ["id"]),
    "sprints": _schema({
        "id": INT, "self": STR, "state": STR, "name": STR, "startDate": TIME, "endDate": TIME,
        "completeDate": TIME, "createdDate": TIME, "originBoardId": INT, "goal": STR, "board_id": INT,
    }, ["id"]),
}
