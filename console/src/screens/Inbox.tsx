/**
 * One inbox for every network: the conversation list (polled every few seconds, so a new
 * comment shows up on its own), the thread, and what the team does with it: reply (or use a
 * saved reply), assign, tag, prioritise, note, hide or delete on the network, resolve.
 */
import { unwrap, type Schemas } from "@herald/client";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useState, type FormEvent } from "react";
import { useConsole } from "../context";
import { dateTime, NETWORKS, time } from "../format";
import { Failure, Loading, NetworkBadge } from "../ui";

// The API has no push channel (no server-sent events): the list and the open thread are asked
// again this often, and at once when the tab comes back into view.
const POLL_MS = 3_000;
// A conversation waiting longer than this for a first answer is shown as overdue.
const OVERDUE_MS = 60 * 60 * 1000;

type Item = Schemas["ConversationItem"];

export default function Inbox() {
  const { api, t, language } = useConsole();
  const [network, setNetwork] = useState("");
  const [status, setStatus] = useState("open");
  const [selected, setSelected] = useState<string | null>(null);
  const list = useQuery({
    queryKey: ["conversations", network, status],
    refetchInterval: POLL_MS,
    queryFn: () =>
      unwrap(
        api.GET("/v1/conversations", {
          params: { query: { network: network || undefined, status: (status || undefined) as "open" | undefined, limit: 100 } },
        }),
      ),
  });
  const overdue = (c: Item) => c.status !== "resolved" && Date.now() - new Date(c.last_message_at).getTime() > OVERDUE_MS;

  return (
    <div className="inbox">
      <div className="toolbar">
        <h1>{t("inbox.title")}</h1>
        <span className="muted" data-testid="inbox-updated">
          {t("inbox.live")}
          {list.dataUpdatedAt > 0 && ` · ${t("inbox.updated", { time: time(language, new Date(list.dataUpdatedAt)) })}`}
        </span>
      </div>
      <div className="row">
        <label>
          {t("common.network")}
          <select value={network} onChange={(e) => setNetwork(e.target.value)}>
            <option value="">{t("common.all")}</option>
            {NETWORKS.map((n) => <option key={n} value={n}>{n}</option>)}
          </select>
        </label>
        <label>
          {t("common.status")}
          <select value={status} onChange={(e) => setStatus(e.target.value)}>
            <option value="">{t("common.all")}</option>
            {["open", "pending", "resolved"].map((s) => <option key={s} value={s}>{s}</option>)}
          </select>
        </label>
      </div>
      <div className="inbox-layout">
        <section aria-label={t("inbox.conversations")} className="card">
          {list.isPending && <Loading />}
          <Failure error={list.error} />
          {list.data?.items.length === 0 && <p className="muted">{t("common.none")}</p>}
          <ul className="plain conversations">
            {list.data?.items.map((c) => (
              <li key={c.id}>
                <button type="button" className="conversation" aria-pressed={c.id === selected} onClick={() => setSelected(c.id)}>
                  <NetworkBadge network={c.network} />{" "}
                  <strong dir="auto">{String((c.author as Record<string, unknown>).name ?? (c.author as Record<string, unknown>).handle ?? "")}</strong>{" "}
                  {c.unread && <span className="pill">{t("inbox.unread")}</span>}{" "}
                  {overdue(c) && <span className="pill warn">{t("inbox.overdue")}</span>}
                  <br />
                  <span className="muted">
                    {t("inbox.sentiment")}: {c.sentiment} · {t("inbox.priority")}: {c.priority}
                    {c.language ? ` · ${t("inbox.language")}: ${c.language}` : ""}
                    {c.assignee ? ` · ${t("inbox.assignee")}: ${c.assignee}` : ""} · {dateTime(language, c.last_message_at)}
                  </span>
                </button>
              </li>
            ))}
          </ul>
        </section>
        <section className="card thread" aria-label={t("inbox.reply")}>
          {selected ? <Thread id={selected} /> : <p className="muted">{t("inbox.select")}</p>}
        </section>
      </div>
    </div>
  );
}

function Thread({ id }: { id: string }) {
  const { api, t, language, announce } = useConsole();
  const queries = useQueryClient();
  const detail = useQuery({
    queryKey: ["conversation", id],
    refetchInterval: POLL_MS,
    queryFn: async () => {
      const answer = await api.GET("/v1/conversations/{conversation_id}", { params: { path: { conversation_id: id } } });
      const data = await unwrap(Promise.resolve(answer));
      return { data, etag: answer.response.headers.get("ETag") ?? `"${data.version}"` };
    },
  });
  const saved = useQuery({ queryKey: ["saved-replies"], queryFn: () => unwrap(api.GET("/v1/saved-replies")) });
  const [reply, setReply] = useState("");
  const [savedId, setSavedId] = useState("");
  const [note, setNote] = useState("");
  const refresh = () => {
    void queries.invalidateQueries({ queryKey: ["conversation", id] });
    void queries.invalidateQueries({ queryKey: ["conversations"] });
  };
  const send = useMutation({
    mutationFn: () =>
      unwrap(
        api.POST("/v1/conversations/{conversation_id}/replies", {
          params: { path: { conversation_id: id } },
          body: savedId && !reply.trim() ? { saved_reply_id: savedId } : { text: reply },
        }),
      ),
    onSuccess: () => {
      setReply("");
      setSavedId("");
      announce(t("inbox.sent"));
      refresh();
    },
  });
  const patch = useMutation({
    mutationFn: (body: Schemas["ConversationPatch"]) =>
      unwrap(
        api.PATCH("/v1/conversations/{conversation_id}", {
          params: { path: { conversation_id: id }, header: { "If-Match": detail.data?.etag } },
          body,
        }),
      ),
    onSuccess: refresh,
  });
  const addNote = useMutation({
    mutationFn: () =>
      unwrap(api.POST("/v1/conversations/{conversation_id}/notes", { params: { path: { conversation_id: id } }, body: { text: note } })),
    onSuccess: () => {
      setNote("");
      refresh();
    },
  });
  const moderate = useMutation({
    mutationFn: ({ message, action }: { message: string; action: string }) =>
      unwrap(
        api.POST("/v1/conversations/{conversation_id}/messages/{message_id}/moderation", {
          params: { path: { conversation_id: id, message_id: message } },
          body: { action } as Schemas["ModerationIn"],
        }),
      ),
    onSuccess: refresh,
  });
  if (detail.isPending) return <Loading />;
  if (!detail.data) return <Failure error={detail.error} />;
  const c = detail.data.data;
  const onReply = (event: FormEvent) => {
    event.preventDefault();
    send.mutate();
  };
  return (
    <div>
      <h2>
        <NetworkBadge network={c.network} /> {c.kind} · {c.status}
      </h2>
      <ol className="plain messages">
        {c.messages.map((m) => (
          <li key={m.id} className={`message ${m.direction}`}>
            <p className="muted">
              <span dir="auto">{m.author_name ?? m.author_handle ?? m.sent_by ?? ""}</span> · {dateTime(language, m.sent_at)}
              {m.language ? ` · ${t("inbox.language")}: ${m.language}` : ""}
              {m.moderation ? ` · ${m.moderation}` : ""}
            </p>
            <p dir="auto">{m.text}</p>
            {m.direction === "inbound" && !m.moderation && (
              <div className="row">
                <button type="button" onClick={() => moderate.mutate({ message: m.id, action: "hide" })}>{t("inbox.hide")}</button>
                <button type="button" onClick={() => moderate.mutate({ message: m.id, action: "delete" })}>{t("inbox.remove")}</button>
              </div>
            )}
          </li>
        ))}
      </ol>
      <form onSubmit={onReply}>
        <label>
          {t("inbox.reply")}
          <textarea dir="auto" rows={3} value={reply} onChange={(e) => setReply(e.target.value)} />
        </label>
        {(saved.data?.items?.length ?? 0) > 0 && (
          <label>
            {t("inbox.saved")}
            <select value={savedId} onChange={(e) => setSavedId(e.target.value)}>
              <option value="">–</option>
              {saved.data?.items.map((s) => <option key={s.id} value={s.id}>{s.name}</option>)}
            </select>
          </label>
        )}
        <button type="submit" className="primary" disabled={send.isPending || (!reply.trim() && !savedId)}>
          {t("inbox.send")}
        </button>
      </form>
      <Failure error={send.error ?? patch.error ?? addNote.error ?? moderate.error} />
      <div className="row">
        <label>
          {t("inbox.assignee")}
          <input
            dir="auto"
            defaultValue={c.assignee ?? ""}
            onBlur={(e) => e.target.value !== (c.assignee ?? "") && patch.mutate({ assignee: e.target.value || null })}
          />
        </label>
        <label>
          {t("inbox.tags")}
          <input
            dir="auto"
            defaultValue={c.tags.join(", ")}
            onBlur={(e) => {
              const tags = e.target.value.split(",").map((s) => s.trim()).filter(Boolean);
              if (tags.join(",") !== c.tags.join(",")) patch.mutate({ tags });
            }}
          />
        </label>
        <label>
          {t("inbox.priority")}
          <select value={c.priority} onChange={(e) => patch.mutate({ priority: e.target.value as Schemas["ConversationPatch"]["priority"] })}>
            {["low", "normal", "high", "urgent"].map((p) => <option key={p} value={p}>{p}</option>)}
          </select>
        </label>
        <button type="button" onClick={() => patch.mutate({ status: "resolved" })}>{t("inbox.resolve")}</button>
      </div>
      <h3>{t("inbox.notes")}</h3>
      <ul className="plain">
        {(c.notes as { id: string; text: string }[]).map((n) => <li key={n.id} dir="auto">{n.text}</li>)}
      </ul>
      <form onSubmit={(e) => { e.preventDefault(); addNote.mutate(); }} className="row">
        <label>
          {t("inbox.note")}
          <input dir="auto" value={note} onChange={(e) => setNote(e.target.value)} />
        </label>
        <button type="submit" disabled={!note.trim()}>{t("inbox.addNote")}</button>
      </form>
    </div>
  );
}
