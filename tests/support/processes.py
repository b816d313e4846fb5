"""Real server processes in the tests (gunicorn, flask run): a free port, waiting for an answer, stopping cleanly."""
import os
import signal
import socket
import subprocess
import time

import requests


def free_port():
    """A loopback port nobody listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_http(url, process, timeout=30):
    """Wait until url answers 200, failing at once if process exits first."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"server exited early with {process.returncode}")
        try:
            if requests.get(url, timeout=1).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(0.2)
    raise AssertionError(f"{url} never answered")


def stop(process, timeout=30):
    """SIGTERM process and wait; SIGKILL its group (start_new_session=True) if it does not exit in time."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def serving_env(database_url, sandbox, **extra):
    """The environment of a production-like dashboard process pointed at sandbox."""
    env = {key: value for key, value in os.environ.items()
           if key not in ("TEST_DATABASE_URL", "WERKZEUG_RUN_MAIN", "FLASK_DEBUG", "SERVER_SOFTWARE")}
    env.update({
        "DATABASE_URL": database_url,
        "SMARTMOVING_BASE_URL": sandbox.base_url,
        "SMARTMOVING_API_KEY": sandbox.api_key,
        "SECRET_KEY": "gunicorn-test-secret-of-at-least-32-characters",
        "COOKIE_SECURE": "false",
        "SMARTMOVING_MIN_INTERVAL": "0",
        "PYTHONUNBUFFERED": "1",
    })
    env.update({key: str(value) for key, value in extra.items()})
    return env
