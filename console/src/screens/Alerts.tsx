/** Alerts: every crisis detected, with the evidence that raised it. */
import { unwrap } from "@herald/client";
import { useQuery } from "@tanstack/react-query";
import { useConsole } from "../context";
import { dateTime } from "../format";
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
      {alerts.isPending && <Loading />}
      <Failure error={alerts.error} />
      {alerts.data?.items.length === 0 && <p className="muted">{t("alerts.none")}</p>}
      <ul className="plain">
        {alerts.data?.items.map((a) => (
          <li key={a.id} className={`card alert ${a.status}`}>
            <h2>{a.scope} · {a.status}</h2>
            <p>{t("alerts.detected")}: {dateTime(language, a.detected_at)}</p>
            <p>{t("alerts.evidence")}: <span dir="auto">{alertReason(a.evidence)}</span></p>
          </li>
        ))}
      </ul>
    </div>
  );
}
