"""Every user-facing string of the suite is translatable and has a French
translation: the strings extracted from each extension's code and templates
(babel.cfg) are all translated, not fuzzy, in its French catalogue."""

from __future__ import annotations

import pathlib

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

REPO = pathlib.Path(__file__).resolve().parent.parent
PACKAGES = sorted(p for p in REPO.glob("ckanext-*/ckanext/*") if (p / "plugin.py").exists())
METHODS = [("**/templates/**.html", "ckan"), ("**.py", "python")]


def plugin_name(package: pathlib.Path) -> str:
    """The plugin's entry-point name: the package name (see pyproject.toml)."""
    return package.name


def extracted(package: pathlib.Path) -> set[str]:
    ids = set()
    for _file, _line, message, _comments, _context in extract_from_dir(
        str(package), METHODS, options_map={}
    ):
        if "/tests/" in _file or _file.startswith("tests/"):
            continue
        ids.add(message if isinstance(message, str) else message[0])
    return ids


def missing_translations(package: pathlib.Path, locale: str = "fr") -> list[str]:
    """Extracted strings without a translation in the catalogue of `locale`."""
    ids = extracted(package)
    if not ids:
        return []
    po = package / "i18n" / locale / "LC_MESSAGES" / f"ckanext-{plugin_name(package)}.po"
    if not po.exists():
        return [f"no catalogue {po.name}"]
    with po.open("rb") as f:
        catalog = read_po(f, locale=locale)
    problems = ["catalogue marked fuzzy: it would not be compiled"] if catalog.fuzzy else []
    for msgid in sorted(ids):
        message = catalog.get(msgid)
        text = message.string if message else None
        if isinstance(text, tuple):
            text = text[0]
        if not message or not text or message.fuzzy:
            problems.append(msgid)
    return problems


@pytest.mark.parametrize("package", PACKAGES, ids=lambda p: p.name)
def test_every_string_has_a_french_translation(package):
    assert missing_translations(package) == []


def test_a_missing_translation_is_reported(tmp_path):
    package = tmp_path / "ckanext" / "demo_plugin"
    (package / "templates").mkdir(parents=True)
    (package / "plugin.py").write_text("from ckan.plugins.toolkit import _\nTITLE = _('Sign the licence')\n")
    assert missing_translations(package) == ["no catalogue ckanext-demo_plugin.po"]

    po = package / "i18n" / "fr" / "LC_MESSAGES" / "ckanext-demo_plugin.po"
    po.parent.mkdir(parents=True)
    po.write_text('msgid ""\nmsgstr ""\n"Content-Type: text/plain; charset=UTF-8\\n"\n\n'
                  'msgid "Sign the licence"\nmsgstr ""\n')
    assert missing_translations(package) == ["Sign the licence"]

    po.write_text('msgid ""\nmsgstr ""\n"Content-Type: text/plain; charset=UTF-8\\n"\n\n'
                  'msgid "Sign the licence"\nmsgstr "Signer la licence"\n')
    assert missing_translations(package) == []
