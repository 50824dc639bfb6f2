"""Test tools the suite's extensions share: actors, the world of datasets at
each access level and the live portal, as a pytest plugin (`pytest_plugin`,
registered with the `pytest11` entry point, so every test run in an
environment where ckanext-grandlyon-access is installed has its fixtures).

Import the classes and builders from `pytest_plugin`; request the fixtures
by name."""
