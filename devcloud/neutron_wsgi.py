"""Neutron's WSGI application, with its policy enforcer built before the first request.

neutron.policy.init() publishes the enforcer before it has registered and loaded its rules. Under
uwsgi's threads, requests that arrive while the first one runs init() see an enforcer without rules
and admin-only calls are refused: right after a start, 6 of 8 concurrent quota updates by an admin
got 403. Building it here, when the worker loads the app, leaves no window.
"""

from neutron import policy
from neutron.wsgi.api import application  # noqa: F401 (parses Neutron's configuration)

policy.init()
