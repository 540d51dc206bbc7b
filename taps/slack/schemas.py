"""JSON Schemas of the Slack streams, written from the Web API reference: the conversation, user
and message objects (conversations.list, users.list, conversations.history / .replies).

Slack's ``ts`` values ("1512085950.000216") are strings: exact decimals, kept as Slack writes them.
Times that Slack gives as epoch numbers (``created``, ``updated``, ``last_set``) stay integers.
"""

from __future__ import annotations

from typing import Any

__all__ = ["SCHEMAS"]


def _n(*types: str, **extra: Any) -> dict[str, Any]:
    return {"type": [*types, "null"], **extra}


STR, INT, BOOL, NUM = _n("string"), _n("integer"), _n("boolean"), _n("number")
STRS = _n("array", items={"type": "string"})
ANY_OBJECT = _n("object")
ANY_OBJECTS = _n("array", items={"type": "object"})
REQ_STR = {"type": "string"}
TOPIC = _n("object", properties={"value": STR, "creator": STR, "last_set": INT})
EDITED = _n("object", properties={"user": STR, "ts": STR})
REACTIONS = _n("array", items={"type": "object", "properties": {"name": STR, "users": STRS, "count": INT}})
FILES = _n("array", items={"type": "object", "properties": {
    "id": STR, "created": INT, "timestamp": INT, "name": STR, "title": STR, "mimetype": STR, "filetype": STR,
    "pretty_type": STR, "user": STR, "size": INT, "mode": STR, "is_external": BOOL, "is_public": BOOL,
    "url_private": STR, "url_private_download": STR, "permalink": STR}})
BOT_PROFILE = _n("object", properties={"id": STR, "name": STR, "app_id": STR, "team_id": STR, "deleted": BOOL,
                                       "updated": INT, "icons": ANY_OBJECT})
PROFILE = _n("object", properties={
    "title": STR, "phone": STR, "skype": STR, "real_name": STR, "real_name_normalized": STR, "display_name": STR,
    "display_name_normalized": STR, "first_name": STR, "last_name": STR, "email": STR, "status_text": STR,
    "status_emoji": STR, "status_expiration": INT, "avatar_hash": STR, "team": STR, "image_24": STR,
    "image_32": STR, "image_48": STR, "image_72": STR, "image_192": STR, "image_512": STR,
    "image_original": STR, "bot_id": STR, "api_app_id": STR, "always_active": BOOL})

_MESSAGE: dict[str, Any] = {
    "channel_id": REQ_STR, "ts": REQ_STR, "type": STR, "subtype": STR, "user": STR, "bot_id": STR, "app_id": STR,
    "username": STR, "team": STR, "text": STR, "client_msg_id": STR, "thread_ts": STR, "parent_user_id": STR,
    "reply_count": INT, "reply_users_count": INT, "latest_reply": STR, "reply_users": STRS, "is_locked": BOOL,
    "subscribed": BOOL, "edited": EDITED, "reactions": REACTIONS, "files": FILES, "attachments": ANY_OBJECTS,
    "blocks": ANY_OBJECTS, "bot_profile": BOT_PROFILE, "pinned_to": STRS, "hidden": BOOL, "upload": BOOL,
    "display_as_bot": BOOL, "permalink": STR,
}

SCHEMAS: dict[str, dict[str, Any]] = {
    "channels": {"type": "object", "properties": {
        "id": REQ_STR, "name": STR, "name_normalized": STR, "is_channel": BOOL, "is_group": BOOL, "is_im": BOOL,
        "is_mpim": BOOL, "is_private": BOOL, "created": INT, "creator": STR, "is_archived": BOOL,
        "is_general": BOOL, "unlinked": INT, "is_shared": BOOL, "is_org_shared": BOOL, "is_ext_shared": BOOL,
        "is_pending_ext_shared": BOOL, "pending_shared": STRS, "is_member": BOOL, "is_open": BOOL,
        "context_team_id": STR, "shared_team_ids": STRS, "parent_conversation": STR, "updated": INT,
        "topic": TOPIC, "purpose": TOPIC, "previous_names": STRS, "num_members": INT, "user": STR,
        "is_user_deleted": BOOL, "priority": NUM,
    }},
    "channel_members": {"type": "object", "properties": {"channel_id": REQ_STR, "member_id": REQ_STR}},
    "users": {"type": "object", "properties": {
        "id": REQ_STR, "team_id": STR, "name": STR, "deleted": BOOL, "color": STR, "real_name": STR, "tz": STR,
        "tz_label": STR, "tz_offset": INT, "profile": PROFILE, "is_admin": BOOL, "is_owner": BOOL,
        "is_primary_owner": BOOL, "is_restricted": BOOL, "is_ultra_restricted": BOOL, "is_bot": BOOL,
        "is_app_user": BOOL, "is_email_confirmed": BOOL, "is_invited_user": BOOL, "has_2fa": BOOL, "updated": INT,
        "locale": STR, "who_can_share_contact_card": STR,
    }},
    "messages": {"type": "object", "properties": _MESSAGE},
    "threads": {"type": "object", "properties": {**_MESSAGE, "thread_ts": REQ_STR}},
    "integration_logs": {"type": "object", "properties": {
        "user_id": REQ_STR, "date": REQ_STR, "user_name": STR, "app_id": STR, "app_type": STR, "service_id": STR,
        "service_type": STR, "change_type": REQ_STR, "reason": STR, "channel": STR, "scope": STR,
    }},
}
