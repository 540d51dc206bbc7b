"""The `sluice` runner: runs Singer taps into Singer targets as programs behind a pipe.

It imports `protocol/` for messages, catalogs and state, and never a tap or a target.
"""
