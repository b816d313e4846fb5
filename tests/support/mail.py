"""A real SMTP server on loopback (aiosmtpd) that keeps what it receives, for the delivery tests."""
import asyncio
import email
import email.policy
import socket
import threading

from aiosmtpd.controller import Controller


class Inbox:
    """aiosmtpd handler: every accepted message, parsed; `refuse` answers every DATA with that reply,
    `delay` (seconds) makes each DATA slow, as a busy server's would be."""

    def __init__(self):
        self.messages = []
        self.refuse = None
        self.delay = 0
        self._lock = threading.Lock()

    async def handle_DATA(self, server, session, envelope):
        if self.refuse:
            return self.refuse
        if self.delay:
            await asyncio.sleep(self.delay)
        parsed = email.message_from_bytes(envelope.content, policy=email.policy.default)
        with self._lock:
            self.messages.append({"to": list(envelope.rcpt_tos), "from": envelope.mail_from, "message": parsed})
        return "250 OK"

    def to(self, address):
        """Messages received for address."""
        return [m for m in self.messages if address in m["to"]]


def free_port():
    """A TCP port on 127.0.0.1 nobody listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start_smtp_server():
    """(controller, inbox, port): a running aiosmtpd on 127.0.0.1; stop with controller.stop()."""
    inbox = Inbox()
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port, ready_timeout=5)
    controller.start()
    return controller, inbox, port
