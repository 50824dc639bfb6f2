"""Access requests reach the organisation's admins by e-mail, through a real
SMTP conversation with a catcher on loopback (smtp.server in the test ini;
the `mailbox` fixture of the root conftest)."""

from __future__ import annotations

from email.header import decode_header, make_header

import ckan.model as model
import pytest
from ckan.tests import helpers
from ckanext.grandlyon_access.model import AccessRequest


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
