"""SMS through Twilio's REST API (requests): a short text and the personal link.

POST https://api.twilio.com/2010-04-01/Accounts/{SID}/Messages.json with basic auth
(account SID, auth token) and form fields To, From, Body. A 2xx is accepted; 429 and
5xx are worth retrying; any other 4xx (a bad number, say) is final.
"""
import requests

from dashboard.plans.outcomes import Permanent
from dashboard.plans.outcomes import Temporary

API_ROOT = "https://api.twilio.com/2010-04-01"
# Twilio splits longer bodies into segments (and bills each); ours stay in two.
MAX_BODY = 320


def messages_url(account_sid):
    """The Messages resource of account_sid."""
    return f"{API_ROOT}/Accounts/{account_sid}/Messages.json"


def send_sms(credentials, to, body, timeout=10.0, session=None):
    """Send body to the phone number `to`; credentials = (sid, token, from). Raises Temporary or Permanent."""
    sid, token, sender = credentials
    http = session or requests
    try:
        response = http.post(messages_url(sid), data={"To": to, "From": sender, "Body": body[:MAX_BODY]},
                             auth=(sid, token), timeout=timeout)
    except requests.RequestException as error:
        raise Temporary(f"Twilio unreachable: {type(error).__name__}") from None
    if 200 <= response.status_code < 300:
        return
    detail = _twilio_message(response)
    if response.status_code == 429 or response.status_code >= 500:
        raise Temporary(f"Twilio answered {response.status_code}{detail}")
    raise Permanent(f"Twilio refused ({response.status_code}){detail}")


def _twilio_message(response):
    """': <Twilio's own message>' when its JSON error body has one (shortened), else ''."""
    try:
        message = response.json().get("message")
    except (ValueError, AttributeError):
        return ""
    return f": {str(message)[:200]}" if message else ""
