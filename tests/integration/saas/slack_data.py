"""Slack-shaped users and messages for the loopback server (shapes from Slack's Web API
documentation, values made up), and Slack timestamps (``"1704067200.000001"``) as exact integers.
"""

from __future__ import annotations

from typing import Any

__all__ = ["BASE_TS", "TEAM", "message", "micros", "ts_of", "user"]

TEAM = "T0SLUICE1"
BASE_TS = 1_704_067_200  # 2024-01-01T00:00:00Z


def ts_of(seconds: int, micros: int = 0) -> str:
    return f"{BASE_TS + seconds}.{micros:06d}"


def micros(ts: str) -> int:
    whole, _, frac = ts.partition(".")
    return int(whole) * 1_000_000 + int((frac + "000000")[:6])


def user(n: int) -> dict[str, Any]:
    name = f"user{n}"
    return {"id": f"U{n:08d}", "team_id": TEAM, "name": name, "deleted": n % 13 == 0, "color": "9f69e7",
            "real_name": f"User {n}", "tz": "Europe/Paris", "tz_label": "Central European Time", "tz_offset": 3600,
            "profile": {"avatar_hash": f"ge{n:04x}", "status_text": "", "status_emoji": "", "real_name": f"User {n}",
                        "display_name": name, "real_name_normalized": f"User {n}", "display_name_normalized": name,
                        "email": f"{name}@example.com", "image_24": f"https://avatars.example/{n}_24.png",
                        "image_72": f"https://avatars.example/{n}_72.png", "team": TEAM, "fields": None},
            "is_admin": n == 1, "is_owner": n == 1, "is_primary_owner": n == 1, "is_restricted": False,
            "is_ultra_restricted": False, "is_bot": n % 10 == 9, "is_app_user": False, "updated": 1_700_000_000 + n,
            "is_email_confirmed": True, "who_can_share_contact_card": "EVERYONE"}


def message(seconds: int, n: int, *, text: str | None = None) -> dict[str, Any]:
    ts = ts_of(seconds, n % 1000)
    return {"type": "message", "user": f"U{n % 7 + 1:08d}", "text": text or f"message {n} about the roadmap",
            "ts": ts, "team": TEAM, "client_msg_id": f"{n:08x}-0000-4000-8000-000000000000",
            "blocks": [{"type": "rich_text", "block_id": f"b{n}", "elements": [
                {"type": "rich_text_section", "elements": [{"type": "text", "text": f"message {n}"}]}]}],
            **({"reactions": [{"name": "thumbsup", "users": ["U00000001"], "count": 1}]} if n % 5 == 0 else {}),
            **({"edited": {"user": f"U{n % 7 + 1:08d}", "ts": ts_of(seconds + 30)}} if n % 11 == 0 else {})}
