"""The README's tour stays buildable: each screenshot it names is taken by a
journey (a `check("<step>")` in tests/journeys/), and the README shows only
pictures that are in docs/tour/."""

from __future__ import annotations

import importlib.util
import os
import re

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _tour():
    spec = importlib.util.spec_from_file_location("tour", os.path.join(ROOT, "scripts", "tour.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.TOUR


def test_every_screenshot_of_the_tour_is_taken_by_a_journey():
    steps = set()
    folder = os.path.join(ROOT, "tests", "journeys")
    for name in os.listdir(folder):
        if name.startswith("test_") and name.endswith(".py"):
            with open(os.path.join(folder, name), encoding="utf-8") as f:
                steps |= set(re.findall(r"""\.check\(\s*["']([\w-]+)["']""", f.read()))
    tour = _tour()
    assert tour
    missing = [(journey, step) for journey, step, _caption in tour if step not in steps]
    assert not missing, f"steps the tour names that no journey checks: {missing}"


def test_the_readme_shows_the_tour_pictures_that_exist():
    with open(os.path.join(ROOT, "README.md"), encoding="utf-8") as f:
        readme = f.read()
    section = readme.split("<!-- tour:start -->", 1)[1].split("<!-- tour:end -->", 1)[0]
    pictures = re.findall(r"\]\((docs/tour/[^)]+)\)", section)
    assert len(pictures) == len(_tour())
    for picture in pictures:
        assert os.path.isfile(os.path.join(ROOT, picture)), picture
