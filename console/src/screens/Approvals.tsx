/**
 * What waits for a decision: posts in review in the coming months (from the calendar), with
 * approve or request changes and a comment, and each post's history of transitions.
 */
import { unwrap, type Schemas } from "@herald/client";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useState } from "react";
import { useConsole } from "../context";
import { dateTime } from "../format";
import { Failure, Loading, NetworkBadge } from "../ui";

const HORIZON_DAYS = 120;

export default function Approvals() {
  const { api, t } = useConsole();
  const from = new Date(Date.now() - 86_400_000).toISOString();
  const to = new Date(Date.now() + HORIZON_DAYS * 86_400_000).toISOString();
  const waiting = useQuery({
    queryKey: ["calendar", "in_review"],
    queryFn: () => unwrap(api.GET("/v1/calendar", { params: { query: { from, to, status: "in_review", limit: 1000 } } })),
  });
  // One row per post (a post has a target per channel).
  const posts = new Map<string, Schemas["CalendarItem"][]>();
  for (const item of waiting.data?.items ?? []) posts.set(item.post_id, [...(posts.get(item.post_id) ?? []), item]);
  return (
    <div>
      <h1>{t("approvals.title")}</h1>
      {waiting.isPending && <Loading />}
      <Failure error={waiting.error} />
      {waiting.isSuccess && posts.size === 0 && <p className="muted">{t("common.none")}</p>}
      {[...posts.entries()].map(([id, items]) => <Review key={id} postId={id} items={items} />)}
    </div>
  );
}

function Review({ postId, items }: { postId: string; items: Schemas["CalendarItem"][] }) {
  const { api, t, language, announce } = useConsole();
  const queries = useQueryClient();
  const [comment, setComment] = useState("");
  const history = useQuery({
    queryKey: ["transitions", postId],
    queryFn: () => unwrap(api.GET("/v1/posts/{post_id}/transitions", { params: { path: { post_id: postId } } })),
  });
  const decide = useMutation({
    mutationFn: async (decision: "approve" | "reject") => {
      const current = await api.GET("/v1/posts/{post_id}", { params: { path: { post_id: postId } } });
      const params = { path: { post_id: postId }, header: { "If-Match": current.response.headers.get("ETag") ?? undefined } };
      const body = { comment: comment || undefined };
      return decision === "approve"
        ? unwrap(api.POST("/v1/posts/{post_id}/approve", { params, body }))
        : unwrap(api.POST("/v1/posts/{post_id}/reject", { params, body }));
    },
    onSuccess: () => {
      announce(t("approvals.done"));
      void queries.invalidateQueries({ queryKey: ["calendar"] });
      void queries.invalidateQueries({ queryKey: ["transitions", postId] });
    },
  });
  const first = items[0];
  return (
    <article className="card">
      <h2>{items.map((i) => <NetworkBadge key={i.target_id} network={i.network} />)} {dateTime(language, first.due_at)}</h2>
      <p dir="auto">{first.text}</p>
      <label>
        {t("approvals.comment")}
        <textarea dir="auto" rows={2} value={comment} onChange={(e) => setComment(e.target.value)} />
      </label>
      <div className="row">
        <button type="button" className="primary" onClick={() => decide.mutate("approve")}>{t("approvals.approve")}</button>
        <button type="button" onClick={() => decide.mutate("reject")}>{t("approvals.reject")}</button>
      </div>
      <Failure error={decide.error} />
      <details>
        <summary>{t("approvals.history")}</summary>
        <ol className="plain">
          {history.data?.map((h, i) => (
            <li key={i}>
              {dateTime(language, h.at)} · {h.from_status ?? "–"} → {h.to_status} · <span dir="auto">{h.by}</span>
              {h.comment && <> · <span dir="auto">{h.comment}</span></>}
            </li>
          ))}
        </ol>
      </details>
    </article>
  );
}
