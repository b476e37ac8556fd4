/** An open crisis alert, on every screen: what was detected and why. */
import { unwrap, type Schemas } from "@herald/client";
import { useQuery } from "@tanstack/react-query";
import { useConsole } from "../context";

/** Why the alert was raised: its reason, else the evidence it carries. */
export function alertReason(alert: Schemas["AlertOut"]): string {
  if (alert.reason) return alert.reason;
  return Object.entries(alert.evidence)
    .slice(0, 3)
    .map(([k, v]) => `${k}: ${typeof v === "object" ? JSON.stringify(v) : String(v)}`)
    .join(", ");
}

export function CrisisBanner() {
  const { api, t, navigate } = useConsole();
  const open = useQuery({
    queryKey: ["alerts", "open"],
    refetchInterval: 10_000,
    queryFn: () => unwrap(api.GET("/v1/alerts", { params: { query: { status: "open", limit: 5 } } })),
  });
  const alert = open.data?.items[0];
  if (!alert) return null;
  return (
    <div className="crisis" role="alert">
      <strong>{t("alerts.crisis", { why: "" })}</strong>
      <span dir="auto">{alertReason(alert)}</span>{" "}
      <button type="button" onClick={() => navigate("alerts")}>{t("nav.alerts")}</button>
    </div>
  );
}
