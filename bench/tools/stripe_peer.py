"""Run PyPI tap-stripe (singer-io) against the loopback Stripe server, its code unchanged.

The tap has no base-URL setting, and its request timer reads the stream name from URLs of
``api.stripe.com`` (any other host fails). So the stripe library's ``api_base`` is set to
``http://api.stripe.com`` and its requests go through the loopback server as an HTTP proxy
(``HTTP_PROXY``, which requests honours): the server answers the proxied ``GET
http://api.stripe.com/v1/...`` itself. The proxy URL is the config's ``bench_proxy`` (a key the
tap ignores). Arguments: the tap's own (``--config``, ``--catalog``, ``--discover``).
"""

import json
import os
import sys

import stripe

with open(sys.argv[sys.argv.index("--config") + 1]) as fh:
    proxy = json.load(fh)["bench_proxy"]
for name in ("HTTP_PROXY", "http_proxy"):
    os.environ[name] = proxy
for name in ("NO_PROXY", "no_proxy"):
    os.environ.pop(name, None)
stripe.api_base = "http://api.stripe.com"

from tap_stripe import main  # noqa: E402  (after api_base is set)

main()
