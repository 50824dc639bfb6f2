"""Site-wide language (site/): strings of other packages shown without French
are translated by this extension's catalogue (site/other_strings.py), counts
follow the page language's plural rule (site/plurals.py), dates its order
(site/helpers.py)."""

from __future__ import annotations

import datetime

import ckan.plugins.toolkit as tk
from ckanext.grandlyon_access.testing.pytest_plugin import make_actor
from flask_babel import force_locale


def test_the_sysadmin_page_is_in_french(app, clean_db):
    token = make_actor(sysadmin=True).token
    html = app.get("/ckan-admin/", headers={"Authorization": token}).get_data(as_text=True)
    for french in ("Administrateurs système actuels", "utilisateur administrateur système",
                   "Retirer les droits d", ">Nommer</button>"):
        assert french in html
    for english in ("Current Sysadmins", "Promote user to Sysadmin"):
        assert english not in html
    # The same page under /en/ stays in English.
    html = app.get("/en/ckan-admin/", headers={"Authorization": token}).get_data(as_text=True)
    assert "Current Sysadmins" in html


def test_french_counts_zero_in_the_singular(app):
    """The merged catalogue counts with the page language's rule, not with
    English's (ckanext-harvest, read last, has no French catalogue)."""
    from ckan.common import ungettext

    with app.flask_app.test_request_context("/", environ_overrides={"CKAN_LANG": "fr"}):
        counts = [ungettext("{n} error", "{n} errors", n).format(n=n) for n in (0, 1, 2)]
    assert counts == ["0 erreur", "1 erreur", "2 erreurs"]
    with app.flask_app.test_request_context("/", environ_overrides={"CKAN_LANG": "en"}):
        counts = [ungettext("{n} error", "{n} errors", n).format(n=n) for n in (0, 1, 2)]
    assert counts == ["0 errors", "1 error", "2 errors"]


def test_a_date_with_its_hour_is_written_in_the_page_s_order(app):
    """CKAN wrote "décembre 6, 2026, 05:33 (UTC)" on French pages."""
    when = datetime.datetime(2026, 12, 6, 5, 33)  # UTC; shown in Europe/Paris
    for lang, expected in (("fr", "6 décembre 2026, 06:33 (+0100)"),
                           ("en", "December 6, 2026, 06:33 (+0100)")):
        with app.flask_app.test_request_context(f"/{lang}/" if lang == "en" else "/"):
            with force_locale(lang):
                assert tk.h.render_datetime(when, with_hours=True) == expected
                assert tk.h.render_datetime(when) == ("6 décembre 2026" if lang == "fr"
                                                      else "December 6, 2026")
