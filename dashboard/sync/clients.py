"""The SmartMoving client for a company, from the configuration (or the sandbox the app factory wired in)."""
import os
import time

from flask import current_app

from dashboard.smartmoving.client import SmartMovingClient
from dashboard.smartmoving.errors import AuthError

# app.extensions key of the built-in sandbox's starter, which the app factory wires in for demo mode.
SANDBOX_EXTENSION = "smartmoving_sandbox"


def client_for(company, on_call=None, deadline=None, sleep=time.sleep):
    """A SmartMoving client for company from the configuration (the embedded sandbox in demo mode)."""
    config = current_app.config
    min_interval = config["SMARTMOVING_MIN_INTERVAL"]
    if company.is_default:
        base_url, api_key = config["SMARTMOVING_BASE_URL"], config.get("SMARTMOVING_API_KEY")
        if config["DEMO_MODE"]:   # the built-in sandbox answers as SmartMoving
            server = current_app.extensions[SANDBOX_EXTENSION](company.timezone)
            base_url, api_key = server.base_url, server.api_key
            min_interval = 0.0  # the embedded sandbox has no rate limit to respect
    else:
        base_url, api_key = config["SMARTMOVING_BASE_URL"], os.environ.get(company.api_key_env or "")
    if not api_key:
        raise AuthError(f"No SmartMoving API key configured for {company.name} "
                        f"(set the {company.api_key_env or 'SMARTMOVING_API_KEY'} environment variable).")
    return SmartMovingClient(
        base_url, api_key, config.get("SMARTMOVING_CLIENT_ID") if company.is_default else None,
        connect_timeout=config["SMARTMOVING_CONNECT_TIMEOUT"], read_timeout=config["SMARTMOVING_READ_TIMEOUT"],
        call_timeout=config["SMARTMOVING_CALL_TIMEOUT"],
        min_interval=min_interval, call_budget=config["SMARTMOVING_CALL_BUDGET"],
        max_retry_wait=config["SMARTMOVING_MAX_RETRY_WAIT"], deadline=deadline, on_call=on_call, sleep=sleep,
    )
