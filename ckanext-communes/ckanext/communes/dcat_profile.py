"""A ckanext-dcat profile that makes the portal's DCAT-AP 3 catalogue
conform to the official DCAT-AP shapes and adds its access conditions.

- dct:accessRights from the EU access-right vocabulary per access level;
- the licence (dct:license) on the dataset and on every distribution, the
  EU licence IRI where the mapping file gives one;
- formats, media types, frequencies, themes (from the groups) and places (from
  the commune organisations' INSEE code) as IRIs of the EU vocabularies,
  mapped from the stored text by `dcat_mapping` (configuration, not code);
- the catalogue record's publisher, languages, typed homepage and theme
  taxonomies from ckan.ini.

Registered as the RDF profile `communes_access` (after `euro_dcat_ap_3` in
`ckanext.dcat.rdf.profiles`). The resource URLs it serialises are those the
requesting user is shown: the portal's gated download route for data the
user may not read (the access plugin rewrites them in package_show and
package_search), never the origin.
"""

from __future__ import annotations

import json
import re
from typing import Any

import ckan.model as model
import ckan.plugins.toolkit as tk
from ckanext.communes import config
from ckanext.communes.dcat_mapping import IANA, Mappings, current, is_iri
from ckanext.communes.harvesters.base import NOTE_UNKNOWN_LICENCE, repaired_remote_dataset
from ckanext.dcat.profiles import RDFProfile
from ckanext.dcat.profiles.base import DCAT, DCT, FOAF, LOCN, SCHEMA, SKOS, VCARD
from rdflib import BNode, Literal, URIRef
from rdflib.namespace import RDF, XSD
from ckanext.communes.logic.validators import temporal_moment

ACCESS_RIGHT = "http://publications.europa.eu/resource/authority/access-right/"
ACCESS_RIGHTS = {"open": "PUBLIC", "licensed": "RESTRICTED", "restricted": "NON_PUBLIC"}
LEVELS = {ACCESS_RIGHT + right: level for level, right in ACCESS_RIGHTS.items()}


# What an IRI may not hold (RFC 3987; Turtle's IRIREF): spaces, controls
# and < > " { } | \ ^ `. rdflib writes them raw; Jena and RDF4J refuse them.
NOT_IN_IRI = re.compile(r'[\x00-\x20<>"{}|\\^`\x7f-\x9f]')


PROFILE = "communes_access"
# The texts tagged with the portal's language (`_language_tagged`).
TEXTS = (DCT.title, DCT.description, DCAT.keyword)


def profiles_in_order(profiles: Any) -> Any:
    """The RDF profiles (a list, or a text with commas or spaces, as in
    ckan.ini) with this profile last, wherever it was named: it completes
    and corrects what the other profiles wrote, so run before them its
    output would depend on the order given (`?profiles=` of a request or
    ckan.ini). Names are stripped of spaces; None stays None."""
    if profiles is None:
        return None
    names = profiles if isinstance(profiles, list) else re.split(r"[\s,]+", str(profiles))
    names = [str(name).strip() for name in names if str(name).strip()]
    if PROFILE in names:
        names = [name for name in names if name != PROFILE] + [PROFILE]
    return names


def valid_iri(iri: str) -> str:
    """`iri` with the characters an IRI may not hold percent-encoded (its
    UTF-8 bytes), so that a resource URL stored before the validators
    keeps the catalogue parseable."""
    return NOT_IN_IRI.sub(
        lambda m: "".join(f"%{b:02X}" for b in m.group(0).encode("utf-8")), iri)


def access_right_uri(dataset_dict: dict) -> str:
    """The EU access right of a dataset: PUBLIC (open), RESTRICTED (licensed:
    reached after signing its licence), NON_PUBLIC (restricted: granted users
    only). A private dataset is never public."""
    level = dataset_dict.get("access_level") or "open"
    if dataset_dict.get("private"):
        level = "restricted"
    return ACCESS_RIGHT + ACCESS_RIGHTS.get(level, "NON_PUBLIC")


def licence_uri(dataset_dict: dict) -> str:
    if dataset_dict.get("license_url"):
        return dataset_dict["license_url"]
    licence_id = dataset_dict.get("license_id")
    if not licence_id:
        return ""
    return tk.config["ckan.site_url"].rstrip("/") + "/licence/" + licence_id


def _positions(coordinates) -> list:
    if coordinates and isinstance(coordinates[0], (int, float)):
        return [coordinates]
    return [p for part in coordinates or [] for p in _positions(part)]


def bounding_box(geojson: str) -> str:
    """The WKT polygon of a GeoJSON geometry's bounding box ("" if none)."""
    try:
        geometry = json.loads(geojson) if isinstance(geojson, str) else geojson
        points = _positions(geometry.get("coordinates"))
        xs, ys = [p[0] for p in points], [p[1] for p in points]
        west, east, south, north = min(xs), max(xs), min(ys), max(ys)
    except (ValueError, TypeError, AttributeError, IndexError):
        return ""
    return (f"POLYGON (({west} {south}, {east} {south}, {east} {north}, "
            f"{west} {north}, {west} {south}))")


def organisation_fields(org_id: str) -> dict[str, str]:
    """What the DCAT-AP profile reads of an organisation: its title and the
    scheming fields kept in the group's extras (`insee_code` of a commune,
    `contact_email`)."""
    group = model.Group.get(org_id) if org_id else None
    if not group:
        return {}
    return {"title": group.title or group.name,
            "insee_code": group.extras.get("insee_code") or "",
            "contact_email": group.extras.get("contact_email") or ""}


def licence_id_of(iri: str, mappings: Mappings) -> str:
    """The registry's licence of a dct:license IRI (harvesting in): an EU
    licence IRI of the mapping file, a licence's own address, or a portal's
    licence page (`.../licence/<id>`) naming a licence of the registry; ""
    when none."""
    licence_id = mappings.licence_id(iri)
    if licence_id:
        return licence_id
    known = {licence.id: licence for licence in model.Package.get_license_register().values()}
    for licence in known.values():
        if licence.url and licence.url.rstrip("/") == iri.rstrip("/"):
            return licence.id
    head, _, tail = iri.rstrip("/").rpartition("/")
    return tail if head.endswith("/licence") and tail in known else ""


class CommunesAccessProfile(RDFProfile):
    def parse_dataset(self, dataset_dict, dataset_ref):
        """A harvested DCAT-AP dataset -> the portal's fields: the access
        level of its EU access right, the registry's licence, CKAN formats;
        a field the dataset schema would refuse is left out with a note
        (`repaired_remote_dataset`), not the whole dataset."""
        mappings = current()
        self._fit_schema(dataset_dict)
        rights = [str(o) for o in self.g.objects(dataset_ref, DCT.accessRights)]
        level = next((LEVELS[r] for r in rights if r in LEVELS), None)
        if level:
            dataset_dict["access_level"] = level
        licences = [str(o) for o in self.g.objects(dataset_ref, DCT.license)]
        licences += [res.get("license") or "" for res in dataset_dict.get("resources", [])]
        notes: list[str] = []
        for iri in licences:
            licence_id = licence_id_of(iri, mappings) if iri else ""
            if licence_id:
                dataset_dict["license_id"] = licence_id
                break
        else:
            if any(licences):
                notes.append(NOTE_UNKNOWN_LICENCE.format(licence=next(i for i in licences if i)))
        for resource in dataset_dict.get("resources", []):
            resource.pop("license", None)  # the dataset's licence, published on each
        for resource in dataset_dict.get("resources", []):
            name = mappings.format_name(resource.get("format") or "")
            if name:
                resource["format"] = name
            mimetype = resource.get("mimetype") or ""
            if mimetype.startswith(IANA):
                resource["mimetype"] = mimetype[len(IANA):]
        dataset_dict.update(repaired_remote_dataset(dataset_dict, notes))  # read in place
        if notes:
            dataset_dict["provenance_notes"] = "\n".join(
                [dataset_dict.get("provenance_notes") or ""] + notes).strip()
        return dataset_dict

    def _fit_schema(self, dataset_dict: dict) -> None:
        """Keeps what the portal's dataset schema holds: the contact point
        becomes the maintainer; the other DCAT-AP details parsed as lists
        of objects (publisher, creator, coverages...) are left out; themes
        parsed as a JSON text become a list."""
        contact = (dataset_dict.get("contact") or [{}])[0]
        if isinstance(contact, dict):
            dataset_dict.setdefault("maintainer", contact.get("name") or "")
            dataset_dict.setdefault("maintainer_email", contact.get("email") or "")
        fields = {f["field_name"] for f in (self._dataset_schema or {}).get("dataset_fields", [])}
        for key, value in list(dataset_dict.items()):
            if (key not in fields and key not in ("resources", "tags", "groups", "extras")
                    and isinstance(value, list) and value and isinstance(value[0], dict)):
                del dataset_dict[key]
        theme = dataset_dict.get("theme")
        if isinstance(theme, str) and theme.startswith("["):
            dataset_dict["theme"] = json.loads(theme)

    def graph_from_dataset(self, dataset_dict, dataset_ref):
        g = self.g
        mappings = current()
        for node in list(g.objects(dataset_ref, DCT.accessRights)):
            g.remove((dataset_ref, DCT.accessRights, node))
        right = URIRef(access_right_uri(dataset_dict))
        g.add((dataset_ref, DCT.accessRights, right))
        g.add((right, RDF.type, DCT.RightsStatement))
        licence = mappings.licence(dataset_dict.get("license_id") or "") or licence_uri(
            dataset_dict)
        if licence and not list(g.objects(dataset_ref, DCT.license)):
            g.add((dataset_ref, DCT.license, URIRef(licence)))
            g.add((URIRef(licence), RDF.type, DCT.LicenseDocument))
        kind = mappings.licence_type(dataset_dict.get("license_id") or "")
        if licence and kind and (URIRef(licence), DCT.type, None) not in g:
            g.add((URIRef(licence), DCT.type, URIRef(kind)))
            self._concept(URIRef(kind), SKOS.Concept, SKOS.prefLabel, mappings)
        self._frequency(dataset_ref, mappings)
        self._themes(dataset_dict, dataset_ref, mappings)
        self._place(dataset_dict, dataset_ref, mappings)
        self._bounding_box(dataset_dict, dataset_ref)
        self._contact_point(dataset_dict, dataset_ref)
        self._publisher_types(dataset_ref)
        self._mandatory_texts(dataset_dict, dataset_ref)
        for distribution in list(g.objects(dataset_ref, DCAT.distribution)):
            self._distribution(distribution, licence, mappings)
            self._access_url(distribution, dataset_dict)
            self._valid_iris(distribution)
        self._valid_iris(dataset_ref)
        self._valid_temporal(dataset_ref)
        for subject in [dataset_ref] + list(g.objects(dataset_ref, DCAT.distribution)):
            self._language_tagged(subject)

    def _mandatory_texts(self, dataset_dict: dict, dataset_ref) -> None:
        """A title and a description, as DCAT-AP requires of every dataset:
        blank ones are left out, a missing title is the dataset's name and a
        missing description its title (a dataset saved without one)."""
        g = self.g
        title = " ".join(str(dataset_dict.get("title") or "").split()) or str(
            dataset_dict.get("name") or "")
        for predicate in (DCT.title, DCT.description):
            for value in list(g.objects(dataset_ref, predicate)):
                if not str(value).strip():
                    g.remove((dataset_ref, predicate, value))
            if (dataset_ref, predicate, None) not in g and title:
                g.add((dataset_ref, predicate, Literal(title)))

    def _access_url(self, distribution, dataset_dict: dict) -> None:
        """dcat:accessURL, mandatory: a resource saved without an address is
        reached from its page on the portal (the distribution's IRI), else
        from the dataset's page."""
        if (distribution, DCAT.accessURL, None) in self.g:
            return
        if isinstance(distribution, URIRef):
            page = str(distribution)
        else:
            page = tk.config["ckan.site_url"].rstrip("/") + "/dataset/" + str(
                dataset_dict.get("name") or dataset_dict.get("id") or "")
        self.g.add((distribution, DCAT.accessURL, URIRef(page)))

    def _language_tagged(self, subject) -> None:
        """Titles, descriptions and keywords tagged with the portal's default
        language (ckan.locale_default): DCAT-AP readers (data.europa.eu)
        show a text in the language it is tagged with."""
        language = tk.config.get("ckan.locale_default") or ""
        if not language:
            return
        for predicate in TEXTS:
            for value in list(self.g.objects(subject, predicate)):
                if isinstance(value, Literal) and not value.language and (
                        value.datatype in (None, XSD.string)):
                    self.g.remove((subject, predicate, value))
                    self.g.add((subject, predicate, Literal(str(value), lang=language)))

    def _valid_temporal(self, dataset_ref) -> None:
        """Bounds of the temporal coverage that are not an ISO date or date
        and time (free text stored before the validators, "2026-99-99")
        are left out, and a period left without bounds with them."""
        g = self.g
        for period in list(g.objects(dataset_ref, DCT.temporal)):
            for predicate in (DCAT.startDate, DCAT.endDate, SCHEMA.startDate, SCHEMA.endDate):
                for value in list(g.objects(period, predicate)):
                    typed = getattr(value, "datatype", None) in (XSD.date, XSD.dateTime)
                    if not typed or temporal_moment(str(value)) is None:
                        g.remove((period, predicate, value))
            if not any((period, p, None) in g for p in (
                    DCAT.startDate, DCAT.endDate, SCHEMA.startDate, SCHEMA.endDate)):
                g.remove((dataset_ref, DCT.temporal, period))
                g.remove((period, None, None))

    def _valid_iris(self, subject) -> None:
        """The IRIs of `subject`'s statements percent-encoded where they hold
        characters an IRI may not (`valid_iri`)."""
        g = self.g
        for predicate, value in list(g.predicate_objects(subject)):
            if isinstance(value, URIRef) and NOT_IN_IRI.search(str(value)):
                g.remove((subject, predicate, value))
                g.add((subject, predicate, URIRef(valid_iri(str(value)))))

    def _frequency(self, dataset_ref, mappings: Mappings) -> None:
        g = self.g
        for value in list(g.objects(dataset_ref, DCT.accrualPeriodicity)):
            iri = mappings.frequency(str(value))
            g.remove((dataset_ref, DCT.accrualPeriodicity, value))
            if iri:
                g.add((dataset_ref, DCT.accrualPeriodicity, URIRef(iri)))
                g.add((URIRef(iri), RDF.type, DCT.Frequency))

    def _themes(self, dataset_dict: dict, dataset_ref, mappings: Mappings) -> None:
        names = [group.get("name") or "" for group in dataset_dict.get("groups") or []]
        for iri in mappings.themes_of(names):
            self.g.add((dataset_ref, DCAT.theme, URIRef(iri)))
        for theme in list(self.g.objects(dataset_ref, DCAT.theme)):
            self._concept(theme, SKOS.Concept, SKOS.prefLabel, mappings)

    def _concept(self, iri, kind, label_property, mappings: Mappings) -> None:
        """Types a concept (or scheme) of a vocabulary and gives it its
        label, as the shapes want of every skos:Concept and ConceptScheme."""
        label = mappings.labels.get(str(iri))
        if label:
            self.g.add((iri, RDF.type, kind))
            self.g.add((iri, label_property, Literal(label, lang="en")))

    def _organisation(self, dataset_dict: dict) -> dict[str, str]:
        """The dataset's organisation's fields, read once per serialisation."""
        if not hasattr(self, "_organisations"):
            self._organisations: dict[str, dict[str, str]] = {}
        org_id = dataset_dict.get("owner_org") or ""
        if org_id not in self._organisations:
            self._organisations[org_id] = organisation_fields(org_id)
        return self._organisations[org_id]

    def _place(self, dataset_dict: dict, dataset_ref, mappings: Mappings) -> None:
        place = mappings.place(self._organisation(dataset_dict).get("insee_code", ""))
        if place:
            self.g.add((dataset_ref, DCT.spatial, URIRef(place)))
            self.g.add((URIRef(place), RDF.type, DCT.Location))

    def _contact_point(self, dataset_dict: dict, dataset_ref) -> None:
        """A dataset without a maintainer or author has its organisation's
        contact e-mail as contact point (DCAT-AP recommends one)."""
        org = self._organisation(dataset_dict)
        if (dataset_ref, DCAT.contactPoint, None) in self.g or not org.get("contact_email"):
            return
        contact = BNode()
        self.g.add((dataset_ref, DCAT.contactPoint, contact))
        self.g.add((contact, RDF.type, VCARD.Organization))
        self.g.add((contact, VCARD.fn, Literal(org["title"])))
        self.g.add((contact, VCARD.hasEmail, URIRef("mailto:" + org["contact_email"])))

    def _bounding_box(self, dataset_dict: dict, dataset_ref) -> None:
        """dcat:bbox of the dataset's geometry (DCAT-AP recommends one on
        each dct:Location), computed from its GeoJSON coordinates."""
        box = bounding_box(dataset_dict.get("spatial") or "")
        if not box:
            return
        for location in self.g.objects(dataset_ref, DCT.spatial):
            if (location, LOCN.geometry, None) in self.g and (
                    location, DCAT.bbox, None) not in self.g:
                self._add_spatial_value_to_graph(location, DCAT.bbox, box)

    def _publisher_types(self, dataset_ref) -> None:
        """The configured publisher type on the organisations that publish
        (DCAT-AP recommends a dct:type on each agent); a type already there
        (a harvested dataset's) is typed and labelled as a concept too."""
        kind = config.dcat_publisher_type()
        for publisher in list(self.g.objects(dataset_ref, DCT.publisher)):
            if kind and (publisher, DCT.type, None) not in self.g:
                self.g.add((publisher, DCT.type, URIRef(kind)))
            for value in list(self.g.objects(publisher, DCT.type)):
                if isinstance(value, URIRef):
                    self._concept(value, SKOS.Concept, SKOS.prefLabel, current())

    def _distribution(self, distribution, licence: str, mappings: Mappings) -> None:
        g = self.g
        for size in list(g.objects(distribution, DCAT.byteSize)):
            if not str(size).strip().isdigit():  # negative or not a number, stored before
                g.remove((distribution, DCAT.byteSize, size))
        if licence and not list(g.objects(distribution, DCT.license)):
            g.add((distribution, DCT.license, URIRef(licence)))
            g.add((URIRef(licence), RDF.type, DCT.LicenseDocument))
        formats = [str(v) for v in g.objects(distribution, DCT["format"])]
        media = [str(v) for v in g.objects(distribution, DCAT.mediaType)]
        g.remove((distribution, DCT["format"], None))
        g.remove((distribution, DCAT.mediaType, None))
        fmt = formats[0] if formats else ""
        file_type = mappings.file_type(fmt) if fmt else None
        if not file_type and media and not is_iri(media[0]):
            file_type = mappings.file_type(media[0])
        media_type = mappings.media_type(fmt, media[0] if media else None)
        if file_type:
            g.add((distribution, DCT["format"], URIRef(file_type)))
            g.add((URIRef(file_type), RDF.type, DCT.MediaTypeOrExtent))
        if media_type:
            g.add((distribution, DCAT.mediaType, URIRef(media_type)))
            g.add((URIRef(media_type), RDF.type, DCT.MediaType))

    def graph_from_catalog(self, catalog_dict, catalog_ref):
        g = self.g
        publisher = URIRef(config.dcat_publisher_uri())
        g.add((catalog_ref, DCT.publisher, publisher))
        g.add((publisher, RDF.type, FOAF.Agent))
        g.add((publisher, FOAF.name, Literal(config.dcat_publisher_name())))
        if config.dcat_publisher_type():
            kind = URIRef(config.dcat_publisher_type())
            g.add((publisher, DCT.type, kind))
            self._concept(kind, SKOS.Concept, SKOS.prefLabel, current())
        g.remove((catalog_ref, DCT.language, None))
        for language in config.dcat_languages():
            g.add((catalog_ref, DCT.language, URIRef(language)))
            g.add((URIRef(language), RDF.type, DCT.LinguisticSystem))
        for homepage in g.objects(catalog_ref, FOAF.homepage):
            g.add((homepage, RDF.type, FOAF.Document))
        self._language_tagged(catalog_ref)
        for taxonomy in config.dcat_theme_taxonomies():
            g.add((catalog_ref, DCAT.themeTaxonomy, URIRef(taxonomy)))
            self._concept(URIRef(taxonomy), SKOS.ConceptScheme, DCT.title, current())
