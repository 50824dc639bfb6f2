"""What the portal does site-wide, on every page and API call whatever the
extension: the one home for it (the access plugin, which every other
extension of the suite depends on, installs it in `make_middleware`).

- `inputguard.py`: requests refused or made safe before any view runs (a
  NUL character, a redirect target on another site, a state change by a
  plain link asks for a confirmation posted with the CSRF token).
- `resilience.py`: the search index out of reach answers 503 with what to
  do, not a 500.
- `throttle.py`: logging in, password reset requests, registration and
  access requests limited per account and per client address, with
  counters in Redis shared by every web process (429 with when to try
  again).
- `sessions.py`: sessions and remember-me cookies stamped at login, ended
  when the user logs out, changes password or has two-factor sign-in reset
  or switched off.
- `plurals.py`: the plural rule of the page's language, whatever catalogue
  Flask-Babel read last.
- `other_strings.py`: the strings of other packages (CKAN, ckanext-harvest)
  shown without a French translation, translated by this extension's
  catalogue.
- `helpers.py`: CKAN's template helpers made right for every language (a
  date with its hour in the language's order).
- `home.py`: the portal's home page, built from configuration and
  /ckan-admin/config, cached in Redis (templates/home/).
- `catalogue_export.py`: the catalogue the user may see (or the current
  search) as CSV, at /catalogue.csv.
- `api_help.py`: the API help panel of dataset and resource pages
  (templates/api_help/).
"""
