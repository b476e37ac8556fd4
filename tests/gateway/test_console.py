"""The gateway serves the built web console at /console, without an API key."""

from pathlib import Path

from deploy.console import precompress
from tests.gateway.support import running_gateway


def built_console(root: Path) -> Path:
    (root / "assets").mkdir(parents=True)
    (root / "index.html").write_text(
        '<!doctype html><script type="module" src="/console/assets/index-abc123.js"></script>'
    )
    (root / "assets" / "index-abc123.js").write_text("console.log('herald');")
    precompress(root)
    return root


async def test_console_answers_its_files_and_the_page_for_its_own_routes(make_settings, tmp_path):
    dist = built_console(tmp_path / "dist")
    async with running_gateway(make_settings, console_dist=str(dist)) as gw:
        root = await gw.client.get("/console")
        assert root.status_code == 308 and root.headers["location"] == "/console/"

        page = await gw.client.get("/console/")
        assert page.status_code == 200
        assert page.headers["content-type"].startswith("text/html")
        assert page.headers["cache-control"] == "no-cache"
        assert "default-src 'self'" in page.headers["content-security-policy"]
        assert "/console/assets/index-abc123.js" in page.text

        # A route of the app itself (reloaded or linked) answers the page, which routes it.
        deep = await gw.client.get("/console/calendar/week")
        assert deep.status_code == 200 and deep.text == page.text

        # httpx asks for gzip and decodes it: the same bytes either way.
        asset = await gw.client.get("/console/assets/index-abc123.js")
        assert asset.headers["content-encoding"] == "gzip"
        plain = await gw.client.get(
            "/console/assets/index-abc123.js", headers={"Accept-Encoding": "identity"}
        )
        assert "content-encoding" not in plain.headers and plain.text == asset.text
        assert asset.status_code == 200
        assert asset.headers["content-type"].startswith("text/javascript")
        assert asset.headers["cache-control"] == "public, max-age=31536000, immutable"
        assert asset.text == "console.log('herald');"


async def test_a_missing_asset_is_a_404_and_paths_cannot_leave_the_build(make_settings, tmp_path):
    dist = built_console(tmp_path / "dist")
    (tmp_path / "secret.txt").write_text("not for the web")
    async with running_gateway(make_settings, console_dist=str(dist)) as gw:
        missing = await gw.client.get("/console/assets/index-old999.js")
        assert missing.status_code == 404
        assert missing.headers["content-type"] == "application/problem+json"

        escaped = await gw.client.get("/console/%2e%2e/secret.txt")
        assert "not for the web" not in escaped.text


async def test_an_unbuilt_console_is_a_503_saying_how_to_build_it(make_settings, tmp_path):
    async with running_gateway(make_settings, console_dist=str(tmp_path / "nothing")) as gw:
        r = await gw.client.get("/console/")
        assert r.status_code == 503
        assert r.headers["content-type"] == "application/problem+json"
        assert "make console" in r.json()["detail"]
        # The API beside it is unaffected.
        assert (await gw.client.get("/healthz")).status_code == 200
