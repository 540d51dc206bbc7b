"""tap-slack: channels, channel members, users, messages and thread replies from the Slack Web API."""
