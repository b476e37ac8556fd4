"""The role → permission table as Markdown: `docs/roles.md` is this rendering, checked by a test.

    python -m services.gateway.roles > docs/roles.md
"""

from __future__ import annotations

from shared.auth import PERMISSIONS, ROLES


def render_roles_markdown() -> str:
    lines = [
        "# Roles and permissions",
        "",
        "Generated from `shared.auth.PERMISSIONS` by `python -m services.gateway.roles`; a test",
        "fails when this file and the code disagree. Every service checks a permission by name",
        "(`shared.auth.require`), never a role. Nobody grants a role above their own: owner >",
        "admin > editor = reviewer > analyst.",
        "",
        "| Permission | " + " | ".join(ROLES) + " |",
        "|---|" + "|".join(":-:" for _ in ROLES) + "|",
    ]
    for permission, roles in PERMISSIONS.items():
        cells = ["✓" if role in roles else "" for role in ROLES]
        lines.append(f"| `{permission}` | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    print(render_roles_markdown(), end="")
