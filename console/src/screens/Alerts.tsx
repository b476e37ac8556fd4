/**
 * Alerts: every crisis detected, with the reason that raised it, and the queue: freeze it (nothing
 * is published until it is resumed) and resume it (what fell due goes out, or is marked missed
 * when too late).
 */
import { unwrap } from "@herald/client";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useState, type FormEvent } from "react";
import { useConsole } from "../context";
import { dateTime, number } from "../format";
import { Failure, Loading } from "../ui";
import { alertReason } from "./CrisisBanner";

export default function Alerts() {
  const { api, t, language } = useConsole();
  const alerts = useQuery({
    queryKey: ["alerts", "all"],
    refetchInterval: 10_000,
    queryFn: () => unwrap(api.GET("/v1/alerts", { params: { query: { limit: 50 } } })),
  });
  return (
    <div>
      <h1>{t("alerts.title")}</h1>
      <Queue />
      {alerts.isPending && <Loading />}
      <Failure error={alerts.error} />
      {alerts.data?.items.length === 0 && <p className="muted">{t("alerts.none")}</p>}
      <ul className="plain">
        {alerts.data?.items.map((a) => (
          <li key={a.id} className={`card alert ${a.status}`}>
            <h2>{a.scope} · {a.status}</h2>
            <p>{t("alerts.detected")}: {dateTime(language, a.detected_at)}</p>
            <p>{t("alerts.evidence")}: <span dir="auto">{alertReason(a)}</span></p>
            {a.languages && a.languages.length > 0 && <p>{t("inbox.language")}: {a.languages.join(", ")}</p>}
          </li>
        ))}
      </ul>
    </div>
  );
}

export function Queue() {
  const { api, t, language, announce } = useConsole();
  const queries = useQueryClient();
  const [reason, setReason] = useState("");
  const state = useQuery({
    queryKey: ["queue"],
    refetchInterval: 10_000,
    queryFn: () => unwrap(api.GET("/v1/queue/state")),
  });
  const refresh = () => void queries.invalidateQueries({ queryKey: ["queue"] });
  const freeze = useMutation({
    mutationFn: () => unwrap(api.POST("/v1/queue/freeze", { body: { reason } })),
    onSuccess: () => {
      setReason("");
      announce(t("alerts.frozen"));
      refresh();
    },
  });
  const resume = useMutation({
    mutationFn: () => unwrap(api.POST("/v1/queue/resume", { body: {} })),
    onSuccess: refresh,
  });
  const onFreeze = (event: FormEvent) => {
    event.preventDefault();
    freeze.mutate();
  };
  return (
    <section className="card" aria-labelledby="queue-title">
      <h2 id="queue-title">{state.data?.frozen ? t("alerts.frozen") : t("alerts.freeze")}</h2>
      <Failure error={state.error ?? freeze.error ?? resume.error} />
      {state.data?.frozen ? (
        <>
          <ul className="plain">
            {state.data.freezes.map((f) => (
              <li key={f.id}>
                <span dir="auto">{f.reason}</span> · {f.frozen_by} · {dateTime(language, f.frozen_at)}
              </li>
            ))}
          </ul>
          <p data-testid="held">{number(language, state.data.held)}</p>
          <button type="button" className="primary" onClick={() => resume.mutate()}>{t("alerts.resume")}</button>
        </>
      ) : (
        <form className="row" onSubmit={onFreeze}>
          <label>
            {t("alerts.evidence")}
            <input dir="auto" required value={reason} onChange={(e) => setReason(e.target.value)} />
          </label>
          <button type="submit">{t("alerts.freeze")}</button>
        </form>
      )}
    </section>
  );
}
