"""Editorial content: static pages (about, terms of use, access levels...)
and news articles, written by sysadmins in Markdown, in French and English.

One record holds both languages (`title_fr`, `title_en`, `body_fr`,
`body_en`): a page has one address, one image and one publication state
whatever the language, and a language left empty falls back to the other.

- model.py: the table (migration `c4e1f7a9b2d3`);
- images.py: uploaded images, checked by their first bytes and size;
- schema.py, action.py, auth.py: `grandlyon_access_editorial_*` actions;
- render.py: sanitised Markdown (CKAN's bleach renderer), the Atom feed;
- views.py: the pages, the news, the feed and the sysadmins' forms.

A draft is seen by sysadmins only: to anyone else it is missing (the same
404 as an address that does not exist).
"""
