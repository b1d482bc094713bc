"""Intuit's qbXML 13.0 schema, loaded once: every request we build is validated against it."""

from __future__ import annotations

from pathlib import Path

import pytest
import xmlschema

# Intuit's validator schemas, copied with their provenance into the shared reference folder
# beside the checkout, and into this folder so the suite does not depend on that folder.
SCHEMA_DIR = Path(__file__).parent / "qbxml" / "v13"


@pytest.fixture(scope="session")
def qbxml_schema() -> xmlschema.XMLSchema:
    return xmlschema.XMLSchema(str(SCHEMA_DIR / "qbxmlops130.xsd"))
