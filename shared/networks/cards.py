"""Which link a network's card is made from: the one rule the validate answer (the preview a
frontend shows) and the publisher (the card it builds) both follow.

Bluesky, LinkedIn, Facebook and Threads show a card made from the page's own tags for the
post's link when the post carries no media (each shows either media or a card); the client
builds it for Bluesky (`app.bsky.embed.external`) and LinkedIn (`content.article`), and names
the link for Facebook (`link`) and Threads (`link_attachment`). X and the others build their
card themselves or show none.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from shared.networks.counting import extract_scheme_links, extract_urls

CARD_NETWORKS = frozenset({"bluesky", "linkedin", "facebook", "threads"})
# Where the client names the card's link in an option (`link`, `link_attachment`).
LINK_OPTION_NETWORKS = frozenset({"facebook", "threads"})


def card_link(
    network: str, *, text: str, has_media: bool, options: Mapping[str, Any]
) -> str | None:
    """The link the network's card is made from, or None when it shows no card of ours."""
    if network not in CARD_NETWORKS or has_media:
        return None
    if network in LINK_OPTION_NETWORKS and options.get("link"):
        return str(options["link"])
    found = extract_scheme_links(text)
    if network != "bluesky":
        # Bluesky links only what carries its scheme; the others also link a bare domain.
        found += [url for url in extract_urls(text) if "://" not in url.value]
    if not found:
        return None
    first = min(found, key=lambda url: url.start).value
    return first if "://" in first else f"https://{first}"
