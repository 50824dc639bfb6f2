"""The README's illustrated tour, made from the browser journeys' screenshots.

    ./portal tour        # runs the journeys (tests/journeys), then this script

Takes the screenshots named in TOUR from test-artifacts/journeys/, writes
them as small JPEG files into docs/tour/, and rewrites the README between
the markers `<!-- tour:start -->` and `<!-- tour:end -->`. A screenshot
missing from the artefacts is an error: the journey that took it changed.
"""

from __future__ import annotations

import os
import re
import sys

from PIL import Image

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHOTS = os.path.join(ROOT, "test-artifacts", "journeys")
OUT = os.path.join(ROOT, "docs", "tour")
README = os.path.join(ROOT, "README.md")
WIDTH = 960

# (journey, step, caption): the screenshot <journey>-<nn>-<step>.png, in the
# order of the tour.
TOUR: list[tuple[str, str, str]] = [
    ("reuser", "home", "A visitor lands on the portal (French by default, English one click away)"),
    ("reuser", "search-licensed", "Searching “vélo” and filtering by access level"),
    ("reuser", "licence-missing-detail", "Signing a licence online: a missing detail is named"),
    ("reuser", "resource-preview", "Signed: the file downloads and the data previews"),
    ("partner-admin", "admin-request",
     "An organisation admin, from the e-mail, approves a partner with an expiry"),
    ("partner", "download-refused", "After expiry: the refusal says so and offers to ask again"),
    ("publisher", "resource-loaded", "A publisher's CSV upload, loaded into the DataStore"),
    ("publisher", "chart-view", "A chart view built in the portal"),
    ("publisher", "map-view", "A map view from the table's coordinates"),
    ("publisher", "history-grown", "A real-time feed attached: its history fills"),
    ("webmaster", "commune-view", "A commune's white-label view, themed by its webmaster"),
    ("webmaster", "widget-builder", "The widget builder: a snippet for the commune's own site"),
    ("sysadmin", "harvest-job-finished", "A commune portal harvested: the job report"),
    ("sysadmin", "licence-version-published", "A new licence version: signatories sign again"),
]


def find(journey: str, step: str) -> str:
    """test-artifacts/journeys/<journey>-<nn>-<step>.png."""
    pattern = re.compile(rf"^{re.escape(journey)}-\d\d-{re.escape(step)}\.png$")
    names = os.listdir(SHOTS) if os.path.isdir(SHOTS) else []
    matches = sorted(f for f in names if pattern.match(f))
    if not matches:
        sys.exit(f"tour: no screenshot {journey}-NN-{step}.png in {SHOTS}; run ./portal tour")
    return os.path.join(SHOTS, matches[0])


def main() -> None:
    os.makedirs(OUT, exist_ok=True)
    for old in os.listdir(OUT):
        os.remove(os.path.join(OUT, old))
    cells = []
    for number, (journey, step, caption) in enumerate(TOUR, 1):
        stem = f"{journey}-{step}"
        image = Image.open(find(journey, step)).convert("RGB")
        if image.width > WIDTH:
            image = image.resize((WIDTH, round(image.height * WIDTH / image.width)), Image.LANCZOS)
        image.save(os.path.join(OUT, f"{stem}.jpg"), "JPEG", quality=72, optimize=True)
        cells.append(f"![{caption}](docs/tour/{stem}.jpg)<br>{number}. {caption}")
    # Two screenshots a row.
    rows = ["| | |", "| --- | --- |"]
    for i in range(0, len(cells), 2):
        pair = cells[i:i + 2] + [""] * (2 - len(cells[i:i + 2]))
        rows.append(f"| {pair[0]} | {pair[1]} |")
    table = "\n".join(rows) + "\n"
    with open(README, encoding="utf-8") as f:
        text = f.read()
    start, end = "<!-- tour:start -->", "<!-- tour:end -->"
    if start not in text or end not in text:
        sys.exit(f"tour: the README has no {start} ... {end} section")
    head, rest = text.split(start, 1)
    _old, tail = rest.split(end, 1)
    with open(README, "w", encoding="utf-8") as f:
        f.write(f"{head}{start}\n{table}{end}{tail}")
    print(f"tour: {len(TOUR)} screenshots in docs/tour/, README updated")


if __name__ == "__main__":
    main()
