/**
 * The calendar: a month or a week of scheduled posts, placed on the wall-clock day of their
 * schedule (the workspace's time zone), coloured per network. Drag a post to another day (or
 * pick a new date from its panel, by keyboard) to reschedule it: the change is sent with the
 * post's ETag in If-Match, so an edit made meanwhile by someone else is never overwritten.
 */
import { unwrap, type Schemas } from "@herald/client";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { memo, useMemo, useState, type DragEvent } from "react";
import { useConsole } from "../context";
import { locale, NETWORK_COLOURS, NETWORKS } from "../format";
import { Failure, Loading, NetworkBadge, useChannels } from "../ui";

type Item = Schemas["CalendarItem"];
type View = "month" | "week";
const PER_DAY = 6;
const DRAFTS_SHOWN = 10;
const STATUSES = ["scheduled", "in_review", "changes_requested", "approved", "published", "failed"];

/** An entry's own key: its target, or for an occurrence of a recurring post not yet made, the
 * post and the time it falls at. */
function entryKey(item: Item): string {
  return item.target_id ?? `${item.post_id}@${item.due_at}`;
}

function isoDay(d: Date): string {
  return `${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, "0")}-${String(d.getDate()).padStart(2, "0")}`;
}

function addDays(d: Date, n: number): Date {
  const next = new Date(d);
  next.setDate(next.getDate() + n);
  return next;
}

/** The days shown: whole weeks from Monday, covering the month or the week of `anchor`. */
function daysOf(view: View, anchor: Date): Date[] {
  const first = view === "month" ? new Date(anchor.getFullYear(), anchor.getMonth(), 1) : anchor;
  const start = addDays(first, -((first.getDay() + 6) % 7));
  const count = view === "month" ? 42 : 7;
  return Array.from({ length: count }, (_, i) => addDays(start, i));
}

export default function Calendar() {
  const { api, t, language, announce } = useConsole();
  const queries = useQueryClient();
  const [view, setView] = useState<View>("month");
  const [anchor, setAnchor] = useState(() => new Date());
  const [filters, setFilters] = useState({ channel_id: "", network: "", campaign: "", tag: "", status: "" });
  const [selected, setSelected] = useState<Item | null>(null);
  const days = useMemo(() => daysOf(view, anchor), [view, anchor]);
  // A day either side: a post's wall-clock day may differ from its UTC day.
  const from = addDays(days[0], -1).toISOString();
  const to = addDays(days[days.length - 1], 2).toISOString();

  const channels = useChannels();
  const entries = useQuery({
    queryKey: ["calendar", from, to, filters],
    // What goes out shows up on its own: published posts turn so without a reload.
    refetchInterval: 10_000,
    queryFn: async () => {
      const items: Item[] = [];
      let cursor: string | undefined;
      const query = Object.fromEntries(Object.entries(filters).filter(([, v]) => v));
      do {
        const page = await unwrap(
          api.GET("/v1/calendar", { params: { query: { from, to, limit: 1000, cursor, ...query } } }),
        );
        items.push(...page.items);
        cursor = page.next_cursor ?? undefined;
      } while (cursor);
      return items;
    },
  });

  const byDay = useMemo(() => {
    const map = new Map<string, Item[]>();
    for (const item of entries.data ?? []) {
      const day = (item.local_due_at ?? item.due_at).slice(0, 10);
      const list = map.get(day);
      if (list) list.push(item);
      else map.set(day, [item]);
    }
    return map;
  }, [entries.data]);

  const reschedule = useMutation({
    mutationFn: async ({ item, at }: { item: Item; at: string }) => {
      const current = await api.GET("/v1/posts/{post_id}", { params: { path: { post_id: item.post_id } } });
      const etag = current.response.headers.get("ETag") ?? "";
      return unwrap(
        api.PATCH("/v1/posts/{post_id}", {
          params: { path: { post_id: item.post_id }, header: { "If-Match": etag } },
          body: { schedule: { at, timezone: item.timezone ?? undefined } },
        }),
      );
    },
    onSuccess: () => {
      announce(t("calendar.moved"));
      setSelected(null);
      void queries.invalidateQueries({ queryKey: ["calendar"] });
    },
  });

  const moveTo = (item: Item, day: string) => {
    const time = (item.local_due_at ?? item.due_at).slice(11, 19);
    reschedule.mutate({ item, at: `${day}T${time}` });
  };
  const onDrop = (event: DragEvent, day: string) => {
    event.preventDefault();
    const id = event.dataTransfer.getData("text/plain");
    const item = entries.data?.find((i) => entryKey(i) === id);
    if (item && !(item.local_due_at ?? item.due_at).startsWith(day)) moveTo(item, day);
  };

  const title = new Intl.DateTimeFormat(locale(language), { month: "long", year: "numeric" }).format(anchor);
  const weekdays = days.slice(0, 7).map((d) => new Intl.DateTimeFormat(locale(language), { weekday: "short" }).format(d));
  const zone = entries.data?.find((i) => i.timezone)?.timezone;
  const shift = (direction: number) =>
    setAnchor((a) => (view === "month" ? new Date(a.getFullYear(), a.getMonth() + direction, 1) : addDays(a, 7 * direction)));
  const setFilter = (name: keyof typeof filters, value: string) => setFilters((f) => ({ ...f, [name]: value }));
  const today = isoDay(new Date());

  return (
    <div className="calendar-screen">
      <div className="toolbar">
        <h1>{title}</h1>
        <div className="row" role="group" aria-label={t("nav.calendar")}>
          <button type="button" data-testid="previous" onClick={() => shift(-1)}>{t("calendar.previous")}</button>
          <button type="button" onClick={() => setAnchor(new Date())}>{t("calendar.today")}</button>
          <button type="button" data-testid="next" onClick={() => shift(1)}>{t("calendar.next")}</button>
          <button type="button" aria-pressed={view === "month"} onClick={() => setView("month")}>{t("calendar.month")}</button>
          <button type="button" aria-pressed={view === "week"} onClick={() => setView("week")}>{t("calendar.week")}</button>
        </div>
      </div>
      <fieldset className="filters">
        <legend>{t("calendar.filters")}</legend>
        <label>
          {t("common.channel")}
          <select value={filters.channel_id} onChange={(e) => setFilter("channel_id", e.target.value)}>
            <option value="">{t("common.all")}</option>
            {channels.data?.map((c) => <option key={c.id} value={c.id}>{c.name} ({c.network})</option>)}
          </select>
        </label>
        <label>
          {t("common.network")}
          <select value={filters.network} onChange={(e) => setFilter("network", e.target.value)}>
            <option value="">{t("common.all")}</option>
            {NETWORKS.map((n) => <option key={n} value={n}>{n}</option>)}
          </select>
        </label>
        <label>
          {t("common.campaign")}
          <input dir="auto" value={filters.campaign} onChange={(e) => setFilter("campaign", e.target.value)} />
        </label>
        <label>
          {t("common.tag")}
          <input dir="auto" value={filters.tag} onChange={(e) => setFilter("tag", e.target.value)} />
        </label>
        <label>
          {t("common.status")}
          <select value={filters.status} onChange={(e) => setFilter("status", e.target.value)}>
            <option value="">{t("common.all")}</option>
            {STATUSES.map((s) => <option key={s} value={s}>{s}</option>)}
          </select>
        </label>
      </fieldset>
      <p className="muted">
        {zone ? t("calendar.zone", { zone }) + " · " : ""}
        <span data-testid="calendar-count">{t("calendar.shown", { count: new Intl.NumberFormat(locale(language)).format(entries.data?.length ?? 0) })}</span>
      </p>
      {entries.isPending && <Loading />}
      <Failure error={entries.error ?? reschedule.error} />
      <div className="calendar-layout">
        <table className={`calendar ${view}`} data-ready={entries.isSuccess ? "true" : undefined}>
          <thead>
            <tr>{weekdays.map((w) => <th key={w} scope="col">{w}</th>)}</tr>
          </thead>
          <tbody>
            {Array.from({ length: days.length / 7 }, (_, week) => (
              <tr key={week}>
                {days.slice(week * 7, week * 7 + 7).map((d) => {
                  const day = isoDay(d);
                  return (
                    <DayCell
                      key={day}
                      day={day}
                      label={new Intl.DateTimeFormat(locale(language), { dateStyle: "full" }).format(d)}
                      number={new Intl.NumberFormat(locale(language)).format(d.getDate())}
                      outside={view === "month" && d.getMonth() !== anchor.getMonth()}
                      today={day === today}
                      items={byDay.get(day)}
                      limit={view === "week" ? Infinity : PER_DAY}
                      moreLabel={(n) => t("calendar.more", { count: n })}
                      recurringLabel={t("calendar.notMade")}
                      onDrop={onDrop}
                      onSelect={setSelected}
                    />
                  );
                })}
              </tr>
            ))}
          </tbody>
        </table>
        <aside className="card side" aria-label={t("calendar.drafts")}>
          {selected ? (
            <Selected key={entryKey(selected)} item={selected} onMove={moveTo} onClose={() => setSelected(null)} />
          ) : (
            <Drafts />
          )}
        </aside>
      </div>
    </div>
  );
}

interface DayProps {
  day: string;
  label: string;
  number: string;
  outside: boolean;
  today: boolean;
  items: Item[] | undefined;
  limit: number;
  moreLabel: (n: number) => string;
  recurringLabel: string;
  onDrop: (event: DragEvent, day: string) => void;
  onSelect: (item: Item) => void;
}

// A day re-renders only when its own posts change: a month of 2,000 posts stays quick.
const DayCell = memo(function DayCell({ day, label, number, outside, today, items, limit, moreLabel, recurringLabel, onDrop, onSelect }: DayProps) {
  const [open, setOpen] = useState(false);
  const shown = open ? items : items?.slice(0, limit);
  const hidden = (items?.length ?? 0) - (shown?.length ?? 0);
  return (
    <td
      className={`day${outside ? " outside" : ""}${today ? " today" : ""}`}
      data-day={day}
      onDragOver={(e) => e.preventDefault()}
      onDrop={(e) => onDrop(e, day)}
    >
      <span className="day-number" aria-label={label}>{number}</span>
      <ul>
        {shown?.map((item) => (
          <li key={entryKey(item)}>
            <button
              type="button"
              className={item.materialised === false ? "entry planned" : "entry"}
              draggable={item.target_id !== null}
              data-post={item.post_id}
              style={{ borderInlineStartColor: NETWORK_COLOURS[item.network] ?? "#555" }}
              onDragStart={(e) => e.dataTransfer.setData("text/plain", entryKey(item))}
              onClick={() => onSelect(item)}
            >
              <span className="entry-time">{(item.local_due_at ?? item.due_at).slice(11, 16)}</span>{" "}
              {item.materialised === false && <span title={recurringLabel}>↻<span className="visually-hidden">{recurringLabel}</span> </span>}
              <span className="visually-hidden">{item.network} {item.status}</span>
              <span dir="auto" className="entry-text">{item.text}</span>
            </button>
          </li>
        ))}
      </ul>
      {hidden > 0 && (
        <button type="button" className="link" onClick={() => setOpen(true)}>
          {moreLabel(hidden)}
        </button>
      )}
    </td>
  );
});

function Selected({ item, onMove, onClose }: { item: Item; onMove: (item: Item, day: string) => void; onClose: () => void }) {
  const { api, t } = useConsole();
  const [day, setDay] = useState((item.local_due_at ?? item.due_at).slice(0, 10));
  // The post itself says whether it recurs: then this entry is one occurrence of it.
  const post = useQuery({
    queryKey: ["post", item.post_id],
    queryFn: async () => {
      const answer = await api.GET("/v1/posts/{post_id}", { params: { path: { post_id: item.post_id } } });
      const data = await unwrap(Promise.resolve(answer));
      return { data, etag: answer.response.headers.get("ETag") ?? `"${data.version}"` };
    },
  });
  const recurring = Boolean(post.data?.data.schedule?.rrule);
  return (
    <div>
      <h2><NetworkBadge network={item.network} /> {item.status}</h2>
      <p dir="auto">{item.text}</p>
      <p className="muted">{(item.local_due_at ?? item.due_at).replace("T", " ").slice(0, 16)} {item.timezone}</p>
      {item.campaign && <p>{t("common.campaign")}: <span dir="auto">{item.campaign}</span></p>}
      {post.isPending && <Loading />}
      {post.data && recurring && <Occurrence item={item} etag={post.data.etag} onClose={onClose} />}
      {post.data && !recurring && (
        <>
          <label>
            {t("calendar.move")}
            <input type="date" value={day} onChange={(e) => setDay(e.target.value)} />
          </label>
          <div className="row">
            <button type="button" className="primary" onClick={() => onMove(item, day)}>{t("common.save")}</button>
            <button type="button" onClick={onClose}>{t("common.cancel")}</button>
          </div>
        </>
      )}
    </div>
  );
}

/** One occurrence of a recurring post, named by the instant it is due: skipped alone, or
 * edited alone (it then becomes a post of its own and leaves the series). */
function Occurrence({ item, etag, onClose }: { item: Item; etag: string; onClose: () => void }) {
  const { api, t, announce } = useConsole();
  const queries = useQueryClient();
  const local = item.local_due_at ?? item.due_at;
  const [text, setText] = useState(item.text);
  const [day, setDay] = useState(local.slice(0, 10));
  const [time, setTime] = useState(local.slice(11, 16));
  const params = { path: { post_id: item.post_id, at: item.due_at }, header: { "If-Match": etag } };
  const done = (message: string) => {
    announce(message);
    void queries.invalidateQueries({ queryKey: ["calendar"] });
    void queries.invalidateQueries({ queryKey: ["post", item.post_id] });
    onClose();
  };
  const skip = useMutation({
    mutationFn: () => unwrap(api.POST("/v1/posts/{post_id}/occurrences/{at}/skip", { params })),
    onSuccess: () => done(t("calendar.skipped")),
  });
  const edit = useMutation({
    mutationFn: () =>
      unwrap(
        api.PATCH("/v1/posts/{post_id}/occurrences/{at}", {
          params,
          body: { text, at: `${day}T${time}:00`, timezone: item.timezone ?? undefined },
        }),
      ),
    onSuccess: () => done(t("calendar.edited")),
  });
  return (
    <div data-testid="occurrence">
      <p><strong>↻ {t("calendar.occurrence")}</strong></p>
      {item.materialised === false && <p className="muted" data-testid="not-made">{t("calendar.notMade")}</p>}
      <label>
        {t("common.text")}
        <textarea dir="auto" rows={3} value={text} onChange={(e) => setText(e.target.value)} />
      </label>
      <div className="row">
        <label>
          {t("calendar.day")}
          <input type="date" value={day} onChange={(e) => setDay(e.target.value)} />
        </label>
        <label>
          {t("common.time")}
          <input type="time" value={time} onChange={(e) => setTime(e.target.value)} />
        </label>
      </div>
      <Failure error={skip.error ?? edit.error} />
      <div className="row">
        <button type="button" className="primary" disabled={edit.isPending} onClick={() => edit.mutate()}>{t("calendar.editOne")}</button>
        <button type="button" disabled={skip.isPending} onClick={() => skip.mutate()}>{t("calendar.skip")}</button>
        <button type="button" onClick={onClose}>{t("common.cancel")}</button>
      </div>
    </div>
  );
}

function Drafts() {
  const { api, t, navigate } = useConsole();
  // Drafts have no time yet, so the calendar never holds them: they come from the posts list.
  const drafts = useQuery({
    queryKey: ["posts", "drafts"],
    queryFn: () => unwrap(api.GET("/v1/posts", { params: { query: { status: "draft", limit: DRAFTS_SHOWN } } })),
  });
  return (
    <div>
      <h2>{t("calendar.drafts")}</h2>
      <Failure error={drafts.error} />
      {drafts.data?.items.length === 0 ? <p className="muted">{t("common.none")}</p> : (
        <ul className="plain" data-testid="drafts">
          {drafts.data?.items.map((d) => (
            <li key={d.id}>
              {[...new Set(d.targets.map((x) => x.network))].map((n) => <NetworkBadge key={n} network={n} />)}{" "}
              <span dir="auto">{d.text || d.targets.find((x) => x.text)?.text}</span>
            </li>
          ))}
        </ul>
      )}
      <a href="/console/posts?status=draft" onClick={(e) => { e.preventDefault(); navigate("posts?status=draft"); }}>
        {t("posts.allDrafts")}
      </a>
    </div>
  );
}
