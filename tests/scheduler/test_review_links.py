"""External review links: one post, read and comment only, no account, expiring, rate limited."""

import uuid

from sqlalchemy import text

from services.scheduler.settings import SchedulerSettings
from tests.conftest import identity
from tests.scheduler.support import running_scheduler


async def test_a_client_without_an_account_reads_and_comments_one_post(make_settings):
    settings = make_settings(
        SchedulerSettings,
        run_workers=False,
        public_url="https://api.example",
        review_link_requests_per_minute=4,
    )
    workspace = uuid.uuid4()
    h = identity(workspace, "editor")
    async with running_scheduler(settings) as s:
        channel = await s.add_channel(workspace_id=workspace, network="x", timezone="Asia/Tokyo")
        made = []
        for copy in ("Draft for the client", "Another post"):
            r = await s.client.post(
                "/v1/posts",
                json={"text": copy, "targets": [{"channel_id": str(channel), "text": copy + "!"}],
                      "schedule": {"at": "2030-07-01T09:00:00"}},
                headers=h,
            )  # fmt: skip
            made.append(r.json())
        post, other = made
        r = await s.client.post(
            f"/v1/posts/{post['id']}/review-links",
            json={"reviewer": "Acme legal", "expires_in_hours": 48},
            headers=h,
        )
        assert r.status_code == 201, r.text
        link = r.json()
        token = link["token"]
        assert link["url"] == f"https://api.example/v1/review/{token}"

        # No API key, no gateway headers at all: the token is the credential.
        r = await s.client.get(f"/v1/review/{token}")
        assert r.status_code == 200, r.text
        seen = r.json()
        assert seen["post_id"] == post["id"] and seen["text"] == "Draft for the client"
        assert seen["variants"][0]["text"] == "Draft for the client!"
        assert seen["variants"][0]["local_due_at"].startswith("2030-07-01T09:00:00")
        assert "Another post" not in r.text

        r = await s.client.post(
            f"/v1/review/{token}/comments",
            json={"author": "Dana (Acme)", "text": "Please drop the exclamation mark."},
        )
        assert r.status_code == 201, r.text
        for body, field in [({"author": "D", "text": ""}, "text"),
                            ({"author": "D", "text": "x" * 5001}, "text"),
                            ({"text": "no name"}, "author")]:  # fmt: skip
            r = await s.client.post(f"/v1/review/{token}/comments", json=body)
            assert r.status_code == 422 and r.json()["field"] == field, r.text
        # Read and comment only: nothing else answers under the link.
        r = await s.client.patch(f"/v1/review/{token}", json={"text": "changed"})
        assert r.status_code == 405
        got = (await s.client.get(f"/v1/posts/{post['id']}", headers=h)).json()
        assert got["text"] == "Draft for the client" and got["version"] == 1

        # The team sees the comment; the link itself never shows its token again.
        r = await s.client.get(f"/v1/posts/{post['id']}/review-comments", headers=h)
        assert [(c["author"], c["text"]) for c in r.json()] == [
            ("Dana (Acme)", "Please drop the exclamation mark.")
        ]
        r = await s.client.get(f"/v1/posts/{post['id']}/review-links", headers=h)
        assert [item["reviewer"] for item in r.json()] == ["Acme legal"]
        assert token not in r.text
        r = await s.client.get(f"/v1/posts/{other['id']}/review-comments", headers=h)
        assert r.json() == []

        # Each link has its own budget: after the read and the comment above, two more
        # requests this minute, then refusals (a request refused for bad input is not counted).
        statuses = [(await s.client.get(f"/v1/review/{token}")).status_code for _ in range(3)]
        assert statuses == [200, 200, 429]
        r = await s.client.get(f"/v1/review/{token}")
        assert r.status_code == 429 and int(r.headers["retry-after"]) >= 1
        assert r.headers["content-type"] == "application/problem+json"

        # Revoked, expired or unknown: the same 404.
        second = (
            await s.client.post(f"/v1/posts/{post['id']}/review-links", json={}, headers=h)
        ).json()
        assert (await s.client.get(f"/v1/review/{second['token']}")).status_code == 200
        async with s.runtime.sessions() as session:
            await session.execute(
                text("UPDATE scheduler.review_links SET expires_at = now() WHERE id = :id"),
                {"id": second["id"]},
            )
            await session.commit()
        assert (await s.client.get(f"/v1/review/{second['token']}")).status_code == 404
        third = (
            await s.client.post(f"/v1/posts/{post['id']}/review-links", json={}, headers=h)
        ).json()
        r = await s.client.delete(f"/v1/posts/{post['id']}/review-links/{third['id']}", headers=h)
        assert r.status_code == 204
        r = await s.client.post(
            f"/v1/review/{third['token']}/comments", json={"author": "x", "text": "y"}
        )
        assert r.status_code == 404 and r.json()["field"] == "token"
        assert (await s.client.get(f"/v1/review/{'z' * 43}")).status_code == 404

        # Who may make links, for which posts, for how long.
        for headers, body, status in [
            (identity(workspace, "analyst"), {}, 403),
            (identity(uuid.uuid4()), {}, 404),
            (h, {"expires_in_hours": 24 * 31}, 422),
        ]:
            r = await s.client.post(
                f"/v1/posts/{post['id']}/review-links", json=body, headers=headers
            )
            assert r.status_code == status, r.text
