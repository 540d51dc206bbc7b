"""tap-webhook: a verifying webhook receiver (``tap-webhook serve``), its durable spool, and the tap
that drains the spool as Singer streams (see :mod:`taps.webhook.tap`)."""
