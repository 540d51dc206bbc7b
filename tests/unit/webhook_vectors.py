"""Worked examples the providers publish in their documentation (inputs and expected signatures).

- GitHub, "Validating webhook deliveries" > "Testing the webhook payload validation": a secret, a
  payload and the X-Hub-Signature-256 value they give.
- Slack, "Verifying requests from Slack" > step-by-step walk-through: a signing secret, a request
  timestamp, a slash-command body and the X-Slack-Signature value they give.

Stripe, Shopify and GitLab publish the scheme but no expected signature for given inputs; their
tests compute the expected value with hmac/hashlib from the documented recipe instead.
"""

from __future__ import annotations

GITHUB_SECRET = "It's a Secret to Everybody"
GITHUB_PAYLOAD = b"Hello, World!"
GITHUB_SIGNATURE = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"

SLACK_SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
SLACK_TIMESTAMP = "1531420618"
SLACK_BODY = (
    b"token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V"
    b"&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text="
    b"&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN"
    b"&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c"
)
SLACK_SIGNATURE = "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503"
