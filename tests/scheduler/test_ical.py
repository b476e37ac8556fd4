import uuid
from datetime import UTC, datetime
from urllib.parse import parse_qs, urlsplit

from services.scheduler.ical import fold
from services.scheduler.settings import SchedulerSettings
from tests.conftest import identity
from tests.scheduler.support import running_scheduler


def unfold(body: bytes) -> list[str]:
    """RFC 5545 §3.1: every line ends in CRLF, is at most 75 octets, continues with a space."""
    assert body.endswith(b"\r\n")
    raw_lines = body.split(b"\r\n")[:-1]
    assert all(b"\n" not in line and b"\r" not in line for line in raw_lines)
    assert all(len(line) <= 75 for line in raw_lines), max(raw_lines, key=len)
    out: list[bytes] = []
    for line in raw_lines:
        if line.startswith(b" "):
            out[-1] += line[1:]
        else:
            out.append(line)
    return [line.decode() for line in out]


def unescape(value: str) -> str:
    out, i = [], 0
    while i < len(value):
        if value[i] == "\\":
            nxt = value[i + 1]
            out.append("\n" if nxt in "nN" else nxt)
            i += 2
        else:
            assert value[i] not in ",;", value  # an unescaped separator in a TEXT value
            out.append(value[i])
            i += 1
    return "".join(out)


def events(lines: list[str]) -> list[dict[str, str]]:
    assert lines[0] == "BEGIN:VCALENDAR" and lines[-1] == "END:VCALENDAR"
    assert "VERSION:2.0" in lines and any(line.startswith("PRODID:") for line in lines)
    found, current = [], None
    for line in lines:
        if line == "BEGIN:VEVENT":
            current = {}
        elif line == "END:VEVENT":
            found.append(current)
            current = None
        elif current is not None:
            name, _, value = line.partition(":")
            current[name] = value
    return found


def test_folding_never_splits_a_character():
    line = "SUMMARY:" + "שלום 👋🏽 " * 30
    folded = fold(line).encode()
    parts = folded.split(b"\r\n")
    assert all(len(p) <= 75 for p in parts)
    assert all(p.startswith(b" ") for p in parts[1:])
    assert b"".join([parts[0], *(p[1:] for p in parts[1:])]).decode() == line


async def test_feed_url_serves_valid_icalendar_without_the_internal_token(make_settings):
    settings = make_settings(
        SchedulerSettings, run_workers=False, public_url="https://api.herald.example"
    )
    workspace = uuid.uuid4()
    async with running_scheduler(settings) as s:
        x = await s.add_channel(workspace_id=workspace, network="x", timezone="Europe/London")
        text = (
            "Launch day, finally; see you there!\nSecond line with émoji 🎉 and a \\ backslash "
            + ("long words " * 12)
        )
        r = await s.client.post(
            "/v1/posts",
            json={
                "text": text,
                "targets": [{"channel_id": str(x)}],
                "schedule": {
                    "at": datetime.now(UTC)
                    .replace(year=datetime.now(UTC).year + 1, tzinfo=None)
                    .isoformat()
                },
            },
            headers=identity(workspace),
        )
        assert r.status_code == 201, r.text
        target = r.json()["targets"][0]
        # Another workspace's post must not leak into this feed.
        other = uuid.uuid4()
        y = await s.add_channel(workspace_id=other)
        await s.client.post(
            "/v1/posts",
            json={
                "text": "secret",
                "targets": [{"channel_id": str(y)}],
                "schedule": {"at": "2027-06-01T09:00:00"},
            },
            headers=identity(other),
        )

        r = await s.client.get("/v1/calendar/feed", headers=identity(workspace, "analyst"))
        assert r.status_code == 200, r.text
        url = r.json()["url"]
        assert url.startswith("https://api.herald.example/v1/calendar.ics?token=")
        again = (await s.client.get("/v1/calendar/feed", headers=identity(workspace))).json()
        assert again["url"] == url
        token = parse_qs(urlsplit(url).query)["token"][0]

        # No identity headers and no internal token: the URL alone is the credential.
        r = await s.client.get("/v1/calendar.ics", params={"token": token})
        assert r.status_code == 200, r.text
        assert r.headers["content-type"].startswith("text/calendar")
        lines = unfold(r.content)
        [event] = events(lines)
        assert event["UID"] == f"{target['id']}@herald"
        due = datetime.fromisoformat(target["due_at"])
        assert event["DTSTART"] == due.strftime("%Y%m%dT%H%M%SZ")
        assert event["DTSTAMP"].endswith("Z") and len(event["DTSTAMP"]) == 16
        assert unescape(event["DESCRIPTION"]) == text
        assert unescape(event["SUMMARY"]) == "[x] Launch day, finally; see you there!"
        assert "secret" not in r.text

        for bad in ("", "nope", token + "x"):
            r = await s.client.get("/v1/calendar.ics", params={"token": bad})
            assert r.status_code == 404
        # The rest of the calendar API still needs the internal token.
        assert (await s.client.get("/v1/calendar/feed")).status_code == 401

        r = await s.client.post("/v1/calendar/feed/rotate", headers=identity(workspace, "editor"))
        assert r.status_code == 403
        r = await s.client.post("/v1/calendar/feed/rotate", headers=identity(workspace))
        assert r.status_code == 200 and r.json()["url"] != url
        assert (await s.client.get("/v1/calendar.ics", params={"token": token})).status_code == 404
        new_token = parse_qs(urlsplit(r.json()["url"]).query)["token"][0]
        r = await s.client.get("/v1/calendar.ics", params={"token": new_token})
        assert r.status_code == 200 and len(events(unfold(r.content))) == 1
