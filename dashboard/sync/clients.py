"""The SmartMoving client for a company, from its credentials (or the sandbox the app factory wired in)."""
import os
import time

from flask import current_app

from dashboard.companies import credentials
from dashboard.companies.credentials import CredentialsError
from dashboard.sandbox.embedded import ensure_second_world
from dashboard.smartmoving.client import SmartMovingClient
from dashboard.smartmoving.errors import AuthError

# app.extensions key of the built-in sandbox's starter, which the app factory wires in for demo mode.
SANDBOX_EXTENSION = "smartmoving_sandbox"


def _endpoint(company, config):
    """(base URL, API key, min interval) for company: its own key, the environment's, or the demo sandbox.

    The key is read (and decrypted) here, at the start of each sync: a key set meanwhile
    takes effect at the next sync and never disturbs a running one.
    """
    try:
        api_key = credentials.api_key_for(company, config, os.environ)
    except CredentialsError as error:
        raise AuthError(f"SmartMoving key of {company.name}: {error}") from None
    if api_key or not config["DEMO_MODE"] or not (company.is_default or company.is_demo):
        return config["SMARTMOVING_BASE_URL"], api_key, config["SMARTMOVING_MIN_INTERVAL"]
    # Demo mode: the built-in sandbox answers as SmartMoving (a second demo company has its own world);
    # the embedded sandbox has no rate limit to respect.
    server = current_app.extensions[SANDBOX_EXTENSION](company.timezone)
    key = server.api_key if company.is_default else ensure_second_world(server, company.timezone)
    return server.base_url, key, 0.0


def client_for(company, on_call=None, deadline=None, sleep=time.sleep):
    """A SmartMoving client for company from its credentials (the embedded sandbox in demo mode)."""
    config = current_app.config
    base_url, api_key, min_interval = _endpoint(company, config)
    if not api_key:
        raise AuthError(f"No SmartMoving API key configured for {company.name} "
                        f"(set it on the Companies page or with `flask set-smartmoving-key`, "
                        f"or the {company.api_key_env or 'SMARTMOVING_API_KEY'} environment variable).")
    return SmartMovingClient(
        base_url, api_key, credentials.client_id_for(company, config),
        connect_timeout=config["SMARTMOVING_CONNECT_TIMEOUT"], read_timeout=config["SMARTMOVING_READ_TIMEOUT"],
        call_timeout=config["SMARTMOVING_CALL_TIMEOUT"],
        min_interval=min_interval, call_budget=config["SMARTMOVING_CALL_BUDGET"],
        max_retry_wait=config["SMARTMOVING_MAX_RETRY_WAIT"], deadline=deadline, on_call=on_call, sleep=sleep,
    )
