"""E-mail over SMTP (smtplib): one connection reused for a batch, text and HTML parts, timeouts.

SMTP_URL decides the transport (plans/settings.py): smtp:// plain, `?starttls=1` upgraded
with STARTTLS, smtps:// TLS from the first byte. Errors come back as Permanent (the
server refused this message for good: retrying cannot help) or Temporary (anything
else: the server is down, busy, or the connection dropped).
"""
import smtplib
import ssl
from email.message import EmailMessage
from email.utils import formatdate
from email.utils import make_msgid

from dashboard.plans.outcomes import Permanent
from dashboard.plans.outcomes import Temporary


def build_message(mail_from, to, subject, text, html=None, message_id=None):
    """A multipart/alternative message (text first, HTML preferred by mail readers)."""
    message = EmailMessage()
    message["From"] = mail_from
    message["To"] = to
    message["Subject"] = subject
    message["Date"] = formatdate(localtime=False)
    # Stable per outbox row: a copy re-sent after a crash can be recognised as the same message.
    message["Message-ID"] = message_id or make_msgid()
    message.set_content(text)
    if html:
        message.add_alternative(html, subtype="html")
    return message


class SmtpSender:
    """Sends messages over one SMTP connection, opened on first use and reopened after a failure."""

    def __init__(self, settings, timeout=10.0):
        self.settings = settings
        self.timeout = timeout
        self._connection = None

    def _connect(self):
        settings = self.settings
        if settings.security == "ssl":
            connection = smtplib.SMTP_SSL(settings.host, settings.port, timeout=self.timeout,
                                          context=ssl.create_default_context())
        else:
            connection = smtplib.SMTP(settings.host, settings.port, timeout=self.timeout)
            if settings.security == "starttls":
                connection.starttls(context=ssl.create_default_context())
        if settings.username:
            connection.login(settings.username, settings.password or "")
        return connection

    def send(self, message):
        """Hand message over; raises Temporary or Permanent."""
        try:
            if self._connection is None:
                self._connection = self._connect()
            refused = self._connection.send_message(message)
        except smtplib.SMTPRecipientsRefused as error:
            codes = [code for code, _ in error.recipients.values()]
            raise _by_code(min(codes) if codes else 450, "recipient refused") from None
        except smtplib.SMTPAuthenticationError as error:
            self.close()
            raise Temporary(f"SMTP sign-in refused ({error.smtp_code})") from None
        except (smtplib.SMTPSenderRefused, smtplib.SMTPDataError) as error:
            raise _by_code(error.smtp_code, "message refused") from None
        except (smtplib.SMTPException, OSError) as error:
            self.close()
            raise Temporary(f"mail server unavailable: {type(error).__name__}: {str(error)[:200]}") from None
        if refused:
            raise Permanent("recipient refused")

    def close(self):
        """Say goodbye (or just drop a broken connection)."""
        connection, self._connection = self._connection, None
        if connection is None:
            return
        try:
            connection.quit()
        except (smtplib.SMTPException, OSError):
            connection.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def _by_code(code, what):
    """A 5xx reply is final; 4xx (and anything odd) is worth another try."""
    text = f"{what} ({code})"
    return Permanent(text) if isinstance(code, int) and 500 <= code < 600 else Temporary(text)
