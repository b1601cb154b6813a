"""``[core] hostname_callable`` of the test deployment: each Celery worker names itself.

Both workers run on this one machine, so the default (the machine's FQDN) would give their task
instances the same ``hostname``; the deployment sets ``CLOVA_DEPLOY_HOSTNAME`` per worker so a
test can tell on which worker a task runs. Kept free of imports beyond the standard library:
every Airflow component imports it.
"""

from __future__ import annotations

import os
import socket


def worker_hostname() -> str:
    """The worker's name from ``CLOVA_DEPLOY_HOSTNAME``, else the machine's FQDN."""
    return os.environ.get("CLOVA_DEPLOY_HOSTNAME") or socket.getfqdn()
