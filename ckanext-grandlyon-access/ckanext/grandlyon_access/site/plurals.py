"""The plural rule of the pages' language.

Flask-Babel merges every plugin's catalogue into CKAN's and keeps the plural
rule of the last directory it reads, even when that directory has no
catalogue for the language: ckanext-harvest (read last) ships no French, so
French pages counted with English's rule (`n != 1`) and showed "0 erreurs".
`install` makes the merged catalogue use the rule of the last catalogue that
exists for the language (French: `n > 1`), without changing which catalogue
wins for a message."""

from __future__ import annotations

from typing import Any, Callable

from babel import support


def _last_real_plural(directories: list[str], domains: list[str],
                      locale: Any) -> Callable[[int], int] | None:
    for directory, domain in reversed(list(zip(directories, domains))):
        catalogue = support.Translations.load(directory, [locale], domain)
        if isinstance(catalogue, support.Translations):
            return catalogue.plural
    return None


def install(app: Any) -> None:
    """Wraps the app's Flask-Babel domain (once, at start-up)."""
    babel = app.extensions.get("babel")
    if babel is None:
        return
    with app.app_context():
        domain = babel.instance.domain_instance
    merged = domain.get_translations

    def get_translations() -> Any:
        translations = merged()  # Flask-Babel keeps one per language
        if (isinstance(translations, support.Translations)
                and not getattr(translations, "portal_plural_set", False)):
            from flask_babel import get_locale

            plural = _last_real_plural(list(domain.translation_directories),
                                       list(domain.domain), get_locale())
            if plural is not None:
                translations.plural = plural
            translations.portal_plural_set = True
        return translations

    domain.get_translations = get_translations
