/**
 * Every post of the workspace, drafts included, through `GET /v1/posts`: filtered by status,
 * channel, network, campaign and tag, searched by words in any language (the API matches
 * Hebrew words with their prefixes), a page at a time by the API's cursor.
 */
import { unwrap } from "@herald/client";
import { keepPreviousData, useQuery } from "@tanstack/react-query";
import { useEffect, useState } from "react";
import { useConsole } from "../context";
import { dateTime, NETWORKS, number } from "../format";
import { Failure, Loading, NetworkBadge, useChannels } from "../ui";

const PAGE = 20;
const STATUSES = ["draft", "in_review", "changes_requested", "approved", "scheduled", "publishing", "retrying", "published", "failed", "canceled", "missed"];
const EMPTY = { status: "", channel_id: "", network: "", campaign: "", tag: "", q: "" };

/** Filters named in the page's address (`/console/posts?status=draft`) apply from the start. */
function fromAddress(): typeof EMPTY {
  const given = new URLSearchParams(window.location.search);
  const keys = Object.keys(EMPTY) as (keyof typeof EMPTY)[];
  return Object.fromEntries(keys.map((k) => [k, given.get(k) ?? ""])) as typeof EMPTY;
}

export default function Posts() {
  const { api, t, language } = useConsole();
  const channels = useChannels();
  const [typed, setTyped] = useState(fromAddress);
  const [filters, setFilters] = useState(typed);
  // The cursors of the pages walked under these filters: the last one is the page shown.
  const [paging, setPaging] = useState({ key: "", cursors: [undefined] as (string | undefined)[] });
  // Typed words are searched a moment after typing stops, not on every key.
  useEffect(() => {
    const timer = setTimeout(() => setFilters(typed), 300);
    return () => clearTimeout(timer);
  }, [typed]);
  const key = JSON.stringify(filters);
  const pages = paging.key === key ? paging.cursors : [undefined];
  const cursor = pages[pages.length - 1];
  const found = useQuery({
    queryKey: ["posts", filters, cursor],
    placeholderData: keepPreviousData,
    queryFn: () => {
      const query = Object.fromEntries(Object.entries(filters).filter(([, v]) => v.trim()));
      return unwrap(api.GET("/v1/posts", { params: { query: { ...query, cursor, limit: PAGE } } }));
    },
  });
  const set = (name: keyof typeof EMPTY, value: string) => setTyped((f) => ({ ...f, [name]: value }));
  // A choice from a list applies at once.
  const choose = (name: keyof typeof EMPTY, value: string) => {
    set(name, value);
    setFilters((f) => ({ ...f, [name]: value }));
  };
  const next = found.data?.next_cursor;

  return (
    <div>
      <h1>{t("posts.title")}</h1>
      <fieldset className="filters">
        <legend>{t("calendar.filters")}</legend>
        <label>
          {t("posts.search")}
          <input type="search" dir="auto" value={typed.q} aria-describedby="search-help" onChange={(e) => set("q", e.target.value)} />
        </label>
        <span id="search-help" className="muted">{t("posts.searchHelp")}</span>
        <label>
          {t("common.status")}
          <select value={typed.status} onChange={(e) => choose("status", e.target.value)}>
            <option value="">{t("common.all")}</option>
            {STATUSES.map((s) => <option key={s} value={s}>{s}</option>)}
          </select>
        </label>
        <label>
          {t("common.channel")}
          <select value={typed.channel_id} onChange={(e) => choose("channel_id", e.target.value)}>
            <option value="">{t("common.all")}</option>
            {channels.data?.map((c) => <option key={c.id} value={c.id}>{c.name} ({c.network})</option>)}
          </select>
        </label>
        <label>
          {t("common.network")}
          <select value={typed.network} onChange={(e) => choose("network", e.target.value)}>
            <option value="">{t("common.all")}</option>
            {NETWORKS.map((n) => <option key={n} value={n}>{n}</option>)}
          </select>
        </label>
        <label>
          {t("common.campaign")}
          <input dir="auto" value={typed.campaign} onChange={(e) => set("campaign", e.target.value)} />
        </label>
        <label>
          {t("common.tag")}
          <input dir="auto" value={typed.tag} onChange={(e) => set("tag", e.target.value)} />
        </label>
      </fieldset>
      {found.isPending && <Loading />}
      <Failure error={found.error} />
      {found.data && (
        <p className="muted" data-testid="posts-count" role="status">
          {t("posts.shown", { count: number(language, found.data.items.length) })}
        </p>
      )}
      <table className="card list" data-ready={found.isSuccess && !found.isFetching ? "true" : undefined}>
        <thead>
          <tr>
            <th scope="col">{t("common.text")}</th>
            <th scope="col">{t("common.status")}</th>
            <th scope="col">{t("common.network")}</th>
            <th scope="col">{t("posts.due")}</th>
            <th scope="col">{t("common.campaign")}</th>
            <th scope="col">{t("common.tag")}</th>
            <th scope="col">{t("common.created")}</th>
          </tr>
        </thead>
        <tbody>
          {found.data?.items.map((p) => {
            const due = p.targets.map((x) => x.due_at).filter(Boolean).sort()[0];
            return (
              <tr key={p.id} data-testid="post-row" data-post={p.id}>
                <td dir="auto" className="post-text">{p.text || p.targets.find((x) => x.text)?.text}</td>
                <td>{p.status}</td>
                <td>{[...new Set(p.targets.map((x) => x.network))].map((n) => <NetworkBadge key={n} network={n} />)}</td>
                <td>{due ? dateTime(language, due) : <span className="muted">{t("posts.unscheduled")}</span>}</td>
                <td dir="auto">{p.campaign}</td>
                <td dir="auto">{p.tags.join(", ")}</td>
                <td>{dateTime(language, p.created_at)}</td>
              </tr>
            );
          })}
        </tbody>
      </table>
      {found.data?.items.length === 0 && <p className="muted">{t("common.none")}</p>}
      <div className="row">
        <button type="button" disabled={pages.length === 1} onClick={() => setPaging({ key, cursors: [undefined] })}>{t("posts.first")}</button>
        <button type="button" disabled={!next} onClick={() => next && setPaging({ key, cursors: [...pages, next] })}>{t("posts.next")}</button>
      </div>
    </div>
  );
}
