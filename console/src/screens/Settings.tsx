/**
 * Settings: channels (connected through the network's OAuth; the network sends the browser back
 * here with a code, which the API exchanges), members and roles, API keys, client webhooks with
 * their delivery log and replay.
 */
import { unwrap, type Schemas } from "@herald/client";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useEffect, useRef, useState, type FormEvent } from "react";
import { useConsole } from "../context";
import { dateTime, NETWORKS } from "../format";
import { Failure, Loading, NetworkBadge, Section, useChannels } from "../ui";

const ROLES = ["owner", "admin", "editor", "reviewer", "analyst"] as const;
type Role = (typeof ROLES)[number];

function callbackUrl(network: string): string {
  return `${window.location.origin}/console/settings/callback/${network}`;
}

export default function Settings() {
  const { t } = useConsole();
  return (
    <div>
      <h1>{t("settings.title")}</h1>
      <Channels />
      <Members />
      <Keys />
      <Webhooks />
    </div>
  );
}

function Channels() {
  const { api, t, language, announce, navigate } = useConsole();
  const queries = useQueryClient();
  const [network, setNetwork] = useState("x");
  const channels = useChannels();
  const connect = useMutation({
    mutationFn: () =>
      unwrap(api.GET("/v1/channels/connect/{network}", { params: { path: { network }, query: { redirect_uri: callbackUrl(network) } } })),
    onSuccess: (answer) => window.location.assign(answer.authorize_url),
  });
  // Back from the network: /console/settings/callback/<network>?code=…&state=…
  const match = window.location.pathname.match(/\/settings\/callback\/([a-z]+)$/);
  const params = new URLSearchParams(window.location.search);
  const finished = useRef(false);
  const finish = useMutation({
    mutationFn: (args: { network: string; code: string; state: string }) =>
      unwrap(api.GET("/v1/channels/callback/{network}", { params: { path: { network: args.network }, query: { code: args.code, state: args.state } } })),
    onSuccess: (channel) => {
      announce(t("settings.connected", { name: channel.name }));
      void queries.invalidateQueries({ queryKey: ["channels"] });
      navigate("settings");
    },
  });
  useEffect(() => {
    const code = params.get("code");
    const state = params.get("state");
    if (match && code && state && !finished.current) {
      finished.current = true;
      finish.mutate({ network: match[1], code, state });
    }
  });
  const onConnect = (event: FormEvent) => {
    event.preventDefault();
    connect.mutate();
  };
  return (
    <Section title={t("settings.channels")} id="channels">
      {channels.isPending && <Loading />}
      <Failure error={channels.error ?? connect.error ?? finish.error} />
      {finish.isSuccess && <p role="status" className="ok">{t("settings.connected", { name: finish.data.name })}</p>}
      <table>
        <thead>
          <tr><th scope="col">{t("common.network")}</th><th scope="col">{t("common.channel")}</th><th scope="col">{t("common.status")}</th><th scope="col">{t("common.time")}</th></tr>
        </thead>
        <tbody>
          {channels.data?.map((c) => (
            <tr key={c.id} data-testid="channel-row">
              <td><NetworkBadge network={c.network} /></td>
              <td dir="auto">{c.name}{c.username ? ` (@${c.username})` : ""}</td>
              <td>{c.status}{c.status_reason ? `: ${c.status_reason}` : ""}</td>
              <td>{c.token_expires_at ? t("settings.expires", { when: dateTime(language, c.token_expires_at) }) : c.timezone}</td>
            </tr>
          ))}
        </tbody>
      </table>
      <form className="row" onSubmit={onConnect}>
        <label>
          {t("common.network")}
          <select value={network} onChange={(e) => setNetwork(e.target.value)}>
            {NETWORKS.map((n) => <option key={n} value={n}>{n}</option>)}
          </select>
        </label>
        <button type="submit" className="primary" disabled={connect.isPending || finish.isPending}>
          {connect.isPending || finish.isPending ? t("settings.connecting") : t("settings.connect")}
        </button>
      </form>
    </Section>
  );
}

function Members() {
  const { api, t, language } = useConsole();
  const members = useQuery({ queryKey: ["members"], queryFn: () => unwrap(api.GET("/v1/members", { params: { query: { limit: 200 } } })) });
  return (
    <Section title={t("settings.members")} id="members">
      <Failure error={members.error} />
      <ul className="plain">
        {members.data?.items.map((m) => (
          <li key={m.id}><span dir="auto">{m.name ?? m.email}</span> · {m.role} · {dateTime(language, m.created_at)}</li>
        ))}
      </ul>
      {members.data?.items.length === 0 && <p className="muted">{t("common.none")}</p>}
    </Section>
  );
}

function Keys() {
  const { api, t, language } = useConsole();
  const queries = useQueryClient();
  const [name, setName] = useState("");
  const [role, setRole] = useState<Role>("editor");
  const keys = useQuery({ queryKey: ["api-keys"], queryFn: () => unwrap(api.GET("/v1/api-keys")) });
  const create = useMutation({
    mutationFn: () => unwrap(api.POST("/v1/api-keys", { body: { name, role } })),
    onSuccess: () => {
      setName("");
      void queries.invalidateQueries({ queryKey: ["api-keys"] });
    },
  });
  const revoke = useMutation({
    mutationFn: (id: string) => unwrap(api.DELETE("/v1/api-keys/{key_id}", { params: { path: { key_id: id } } })),
    onSuccess: () => void queries.invalidateQueries({ queryKey: ["api-keys"] }),
  });
  return (
    <Section title={t("settings.keys")} id="keys">
      <Failure error={keys.error ?? create.error ?? revoke.error} />
      {create.data && (
        <p role="status" className="ok">{t("settings.keyShown")} <code>{create.data.api_key}</code></p>
      )}
      <ul className="plain">
        {keys.data?.items.map((k: Schemas["ApiKeyOut"]) => (
          <li key={k.id}>
            <span dir="auto">{k.name}</span> · {k.role} · <code>{k.prefix}…</code> · {dateTime(language, k.created_at)}{" "}
            {k.revoked_at ? "✕" : <button type="button" onClick={() => revoke.mutate(k.id)}>{t("settings.revoke")}</button>}
          </li>
        ))}
      </ul>
      <form className="row" onSubmit={(e) => { e.preventDefault(); create.mutate(); }}>
        <label>
          {t("settings.keyName")}
          <input dir="auto" required value={name} onChange={(e) => setName(e.target.value)} />
        </label>
        <label>
          {t("settings.role")}
          <select value={role} onChange={(e) => setRole(e.target.value as Role)}>
            {ROLES.map((r) => <option key={r} value={r}>{r}</option>)}
          </select>
        </label>
        <button type="submit">{t("settings.createKey")}</button>
      </form>
    </Section>
  );
}

function Webhooks() {
  const { api, t } = useConsole();
  const queries = useQueryClient();
  const [url, setUrl] = useState("");
  const [events, setEvents] = useState("*");
  const [open, setOpen] = useState<string | null>(null);
  const hooks = useQuery({ queryKey: ["webhooks"], queryFn: () => unwrap(api.GET("/v1/webhooks")) });
  const create = useMutation({
    mutationFn: () => unwrap(api.POST("/v1/webhooks", { body: { url, events: events.split(",").map((e) => e.trim()).filter(Boolean) } })),
    onSuccess: () => {
      setUrl("");
      void queries.invalidateQueries({ queryKey: ["webhooks"] });
    },
  });
  const test = useMutation({
    mutationFn: (id: string) => unwrap(api.POST("/v1/webhooks/{webhook_id}/test", { params: { path: { webhook_id: id } } })),
    onSuccess: () => void queries.invalidateQueries({ queryKey: ["deliveries"] }),
  });
  return (
    <Section title={t("settings.webhooks")} id="webhooks">
      <Failure error={hooks.error ?? create.error ?? test.error} />
      {create.data && <p role="status" className="ok"><code>{create.data.secret}</code></p>}
      <ul className="plain">
        {hooks.data?.items.map((h) => (
          <li key={h.id}>
            <code dir="ltr">{h.url}</code> · {h.events.join(", ")} · {h.enabled ? "✓" : h.disabled_reason}{" "}
            <button type="button" onClick={() => test.mutate(h.id)}>{t("settings.test")}</button>{" "}
            <button type="button" aria-expanded={open === h.id} onClick={() => setOpen(open === h.id ? null : h.id)}>{t("settings.deliveries")}</button>
            {open === h.id && <Deliveries webhookId={h.id} />}
          </li>
        ))}
      </ul>
      <form className="row" onSubmit={(e) => { e.preventDefault(); create.mutate(); }}>
        <label>
          {t("settings.webhookUrl")}
          <input type="url" dir="ltr" required value={url} onChange={(e) => setUrl(e.target.value)} />
        </label>
        <label>
          {t("settings.webhookEvents")}
          <input dir="ltr" value={events} onChange={(e) => setEvents(e.target.value)} />
        </label>
        <button type="submit">{t("settings.addWebhook")}</button>
      </form>
    </Section>
  );
}

function Deliveries({ webhookId }: { webhookId: string }) {
  const { api, t, language } = useConsole();
  const queries = useQueryClient();
  const deliveries = useQuery({
    queryKey: ["deliveries", webhookId],
    queryFn: () => unwrap(api.GET("/v1/webhooks/{webhook_id}/deliveries", { params: { path: { webhook_id: webhookId } } })),
  });
  const replay = useMutation({
    mutationFn: (id: string) =>
      unwrap(api.POST("/v1/webhooks/{webhook_id}/deliveries/{delivery_id}/replay", { params: { path: { webhook_id: webhookId, delivery_id: id } } })),
    onSuccess: () => void queries.invalidateQueries({ queryKey: ["deliveries", webhookId] }),
  });
  return (
    <ul className="plain">
      <Failure error={deliveries.error ?? replay.error} />
      {deliveries.data?.items.map((d) => (
        <li key={d.id}>
          {d.event_type} · {d.status} · {dateTime(language, d.created_at)}{" "}
          <button type="button" onClick={() => replay.mutate(d.id)}>{t("settings.replay")}</button>
        </li>
      ))}
    </ul>
  );
}
