"""The clients run against the whole platform (tests/e2e's fixture)."""

from tests.e2e.conftest import platform  # noqa: F401  (the fixture)
