from pathlib import Path

from services.gateway.roles import render_roles_markdown
from shared.auth import PERMISSIONS

DOC = Path(__file__).resolve().parents[2] / "docs" / "roles.md"


def test_committed_roles_doc_is_the_rendering_of_the_permission_table():
    assert DOC.read_text() == render_roles_markdown(), (
        "docs/roles.md is stale: python -m services.gateway.roles > docs/roles.md"
    )
    for permission in PERMISSIONS:
        assert f"`{permission}`" in DOC.read_text()
