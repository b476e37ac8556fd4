"""Reports through the gateway: asked for with an API key, announced to the client's webhook
with `report.ready`, downloaded from the signed link without a key."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

from standardwebhooks.webhooks import Webhook

from services.metrics.app import create_app as create_metrics
from services.metrics.settings import MetricsSettings
from tests.gateway.support import bearer, echo_upstreams, running_gateway
from tests.gateway.test_webhooks import allowing, emit, pump, receiving, subscribe
from tests.metrics.support import outbox_events
from tests.support.servers import serve


async def test_a_report_is_asked_for_with_a_key_and_downloaded_with_its_signed_link(
    make_settings,
):
    metrics = create_metrics(make_settings(MetricsSettings, run_workers=False))
    async with (
        receiving() as (receiver, hook_url),
        serve(metrics) as metrics_url,
        echo_upstreams("scheduler", "publisher", "inbox") as ups,
        running_gateway(
            make_settings,
            run_workers=False,
            metrics_url=metrics_url,
            outbound_allow=allowing(hook_url),
            **{f"{name}_url": url for name, (_, url) in ups.items()},
        ) as gw,
    ):
        ws = await gw.workspace(timezone="Atlantic/Reykjavik")
        analyst = bearer((await gw.key(ws["api_key"], "analyst"))["api_key"])
        hook = await subscribe(gw, ws["api_key"], hook_url, ["report.ready"])
        end = datetime.now(UTC).replace(microsecond=0)
        body = {
            "from": (end - timedelta(days=30)).isoformat(),
            "to": end.isoformat(),
            "language": "is",
        }
        assert (await gw.client.post("/v1/reports", json=body)).status_code == 401
        accepted = await gw.client.post("/v1/reports", json=body, headers=analyst)
        assert accepted.status_code == 202, accepted.text
        assert await metrics.state.loops["reports"].run_once()
        report = (
            await gw.client.get(f"/v1/reports/{accepted.json()['id']}", headers=analyst)
        ).json()
        assert report["status"] == "ready" and report["timezone"] == "Atlantic/Reykjavik"
        # The client hears of it: the service's outbox event, fanned out by the gateway.
        [ready] = await outbox_events(metrics.state.runtime, "report.ready")
        assert await emit(gw, ready) == 1 and await pump(gw, datetime.now(UTC)) == 1
        [(sent, sent_headers)] = receiver.got
        payload = Webhook(hook["secret"]).verify(sent, sent_headers)
        assert payload["type"] == "report.ready" and payload["workspace_id"] == ws["id"]
        assert payload["data"]["report_id"] == report["id"]
        assert {f["format"] for f in payload["data"]["files"]} == {"pdf", "html", "csv"}
        link = urlsplit(payload["data"]["download_url"])
        pdf = await gw.client.get(f"{link.path}?{link.query}")  # no key
        assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF-")
        unsigned = await gw.client.get(link.path)
        assert unsigned.status_code == 422
        flipped = "1" if link.query.endswith("0") else "0"
        forged = await gw.client.get(f"{link.path}?{link.query[:-1]}{flipped}")
        assert forged.status_code == 403
