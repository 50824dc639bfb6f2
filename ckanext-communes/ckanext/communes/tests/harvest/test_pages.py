"""ckanext-harvest's pages that the sysadmin journey does not open, as the
portal shows them (harvest_pages/templates/): the form of an existing source
(its delete menu), the actions of a source whose job waits, and the report
of a job with a dataset in error (its remote and local links, what to do)."""

from __future__ import annotations

import ckan.plugins.toolkit as tk
import pytest
from ckan.tests import factories

from .conftest import run_job, source_with_a_broken_record, sysadmin_context

pytestmark = pytest.mark.ckan_config("ckanext.grandlyon_access.outbound.allow", "127.0.0.1")


@pytest.fixture
def token():
    return factories.APIToken(user=factories.Sysadmin()["name"])["token"]


def page(app, url: str, token: str) -> str:
    res = app.get(url, headers={"Authorization": token, "Accept-Language": "fr"})
    assert res.status_code == 200, url
    return res.get_data(as_text=True)


def test_the_form_of_a_source_in_french_with_its_delete_menu(app, make_source, remote, token):
    source = make_source("opendatasoft", remote.url, {"page_size": 3})
    body = page(app, f"/harvest/edit/{source['name']}", token)
    assert "Type de source" in body and "Enregistrer" in body
    assert 'name="source_type" id="field-source-type-' in body
    assert "Supprimer la source" in body and "Supprimer et vider la source" in body
    assert f'href="/harvest/delete/{source["name"]}?clear=True"' in body
    assert 'name="state"' not in body

    tk.get_action("harvest_source_delete")(sysadmin_context(), {"id": source["id"]})
    body = page(app, f"/harvest/edit/{source['name']}", token)
    assert 'name="state"' in body and "Supprimer la source" not in body


def test_a_source_whose_job_waits_cannot_be_run_again(app, make_source, remote, token):
    source = make_source("opendatasoft", remote.url, {"page_size": 3})
    tk.get_action("harvest_job_create")(sysadmin_context(), {"source_id": source["id"],
                                                             "run": True})
    body = page(app, f"/harvest/admin/{source['name']}", token)
    assert "Une moisson est déjà prévue pour cette source" in body
    assert f'href="/harvest/refresh/{source["id"]}"' not in body
    assert "Vider" in body


def test_the_report_of_a_job_with_a_dataset_in_error(app, make_source, remote, token):
    source = source_with_a_broken_record(remote, make_source)
    job = run_job(source["id"])["job"]

    body = page(app, f"/harvest/{source['name']}/job/{job['id']}", token)
    assert "Rapport de moisson" in body and "1 erreur" in body and "4 ajoutés" in body
    assert "qualite-air-capteurs" in body
    assert f'href="{remote.url}/explore/dataset/qualite-air-capteurs/"' in body
    assert "Contenu distant" in body and "Contenu local" in body
    assert "Ces jeux de données n" in body and "ont pas été importés" in body
    # An unknown licence is a note of the job, in French: not an error.
    assert "Importés avec des remarques" in body
    assert "Licence distante inconnue du portail : CC BY-SA 4.0 International" in body
    assert "importé sans licence" in body
    admin = page(app, f"/harvest/admin/{source['name']}", token)
    assert "Moissonner" in admin and "4 ajoutés" in admin
    # The list of the source's jobs: singular and plural nouns, not "1 erreurs".
    jobs = page(app, f"/harvest/{source['name']}/job", token)
    assert f"/job/{job['id']}" in jobs
    assert "1 erreur<" in jobs and "4 ajoutés" in jobs and "0 supprimé<" in jobs
    assert "erreurs" not in jobs.split("communes-harvest-counts", 1)[1]
