"""Access requests reach the organisation's admins by e-mail, through a real
SMTP conversation with a catcher on loopback (smtp.server in the test ini)."""

from __future__ import annotations

import email
import socketserver
import threading
from email.header import decode_header, make_header

import ckan.model as model
import pytest
from ckan.tests import helpers

from ckanext.grandlyon_access.model import AccessRequest


class _SMTPHandler(socketserver.StreamRequestHandler):
    """Just enough of SMTP (RFC 5321) to accept messages."""

    def handle(self):
        self.wfile.write(b"220 catcher ESMTP\r\n")
        data_lines: list[bytes] | None = None
        while line := self.rfile.readline():
            if data_lines is not None:
                if line in (b".\r\n", b".\n"):
                    self.server.messages.append(email.message_from_bytes(b"".join(data_lines)))
                    data_lines = None
                    self.wfile.write(b"250 queued\r\n")
                else:
                    data_lines.append(line[1:] if line.startswith(b"..") else line)
                continue
            verb = line[:4].upper()
            if verb in (b"EHLO", b"HELO"):
                self.wfile.write(b"250 catcher\r\n")
            elif verb == b"DATA":
                data_lines = []
                self.wfile.write(b"354 go ahead\r\n")
            elif verb == b"QUIT":
                self.wfile.write(b"221 bye\r\n")
                return
            else:
                self.wfile.write(b"250 ok\r\n")


@pytest.fixture
def mailbox(ckan_config):
    host, port = ckan_config["smtp.server"].split(":")
    socketserver.ThreadingTCPServer.allow_reuse_address = True
    server = socketserver.ThreadingTCPServer((host, int(port)), _SMTPHandler)
    server.messages = []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.messages
    server.shutdown()
    server.server_close()


def test_request_is_mailed_to_the_organisation_admins(world, mailbox):
    admin = model.User.get("org-admin")
    admin.email = "admin@example.org"
    model.Session.commit()
    helpers.call_action("grandlyon_access_request_create", context={"user": "outsider"},
                        package_id="ds-restricted", message="Pour une étude des flux")
    assert len(mailbox) == 1
    message = mailbox[0]
    assert message["To"].endswith("admin@example.org>") or message["To"] == "admin@example.org"
    subject = str(make_header(decode_header(message["Subject"])))
    assert "Dataset restricted" in subject
    body = message.get_payload(decode=True).decode()
    assert "Pour une étude des flux" in body and "/dataset/ds-restricted" in body


def test_request_is_kept_when_the_mail_server_is_down(world):
    helpers.call_action("grandlyon_access_request_create", context={"user": "outsider"},
                        package_id="ds-restricted", message="Serveur de courriel absent")
    assert model.Session.query(AccessRequest).count() == 1


@pytest.mark.ckan_config("smtp.mail_from", "")
def test_request_is_kept_when_mail_is_not_configured(world):
    helpers.call_action("grandlyon_access_request_create", context={"user": "outsider"},
                        package_id="ds-restricted", message="Pas d'expéditeur configuré")
    assert model.Session.query(AccessRequest).count() == 1
