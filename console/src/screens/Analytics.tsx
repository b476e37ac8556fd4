/**
 * Analytics of the last 30 days: summary figures, the engagement chart (the API draws it:
 * `Accept: image/svg+xml`), top posts (downloadable as CSV), the best-times heatmap of a
 * channel, and links and conversions by campaign.
 */
import { unwrap } from "@herald/client";
import { useQuery } from "@tanstack/react-query";
import { useEffect, useState } from "react";
import { useConsole } from "../context";
import { dateTime, locale, number, percent } from "../format";
import { Failure, Loading, Section, useChannels } from "../ui";

const DAY = 86_400_000;

function csv(rows: (string | number | null)[][]): string {
  const cell = (v: string | number | null) => {
    const s = v === null ? "" : String(v);
    return /[",\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
  };
  return rows.map((r) => r.map(cell).join(",")).join("\n") + "\n";
}

export default function Analytics() {
  const { api, t, language } = useConsole();
  const [range] = useState(() => ({ from: new Date(Date.now() - 30 * DAY).toISOString(), to: new Date().toISOString() }));
  const summary = useQuery({
    queryKey: ["summary", range],
    queryFn: () => unwrap(api.GET("/v1/analytics/summary", { params: { query: range } })),
  });
  const top = useQuery({
    queryKey: ["top", range],
    queryFn: () => unwrap(api.GET("/v1/analytics/top-posts", { params: { query: { ...range, limit: 10 } } })),
  });
  const conversions = useQuery({
    queryKey: ["conversions", range],
    queryFn: () => unwrap(api.GET("/v1/analytics/conversions", { params: { query: { ...range, group_by: "campaign" } } })),
  });
  const channels = useChannels();
  const [chart, setChart] = useState<string>("");
  useEffect(() => {
    let url = "";
    void api
      .GET("/v1/analytics/summary", {
        params: { query: { ...range, language } },
        headers: { Accept: "image/svg+xml" },
        parseAs: "blob",
      })
      .then(({ data }) => {
        if (data) {
          url = URL.createObjectURL(data as Blob);
          setChart(url);
        }
      });
    return () => {
      if (url) URL.revokeObjectURL(url);
    };
  }, [api, range, language]);

  const download = () => {
    const rows = [["post_id", "metric", "value", "published_at", "networks", "campaign"], ...(top.data?.items ?? []).map((p) => [p.post_id, p.metric, p.value, p.published_at, p.networks.join(" "), p.campaign ?? null])];
    const link = document.createElement("a");
    link.href = URL.createObjectURL(new Blob([csv(rows)], { type: "text/csv" }));
    link.download = "top-posts.csv";
    link.click();
    URL.revokeObjectURL(link.href);
  };

  const s = summary.data;
  const figures: [string, string][] = s
    ? [
        [t("analytics.posts"), number(language, s.posts_published)],
        [t("analytics.engagements"), number(language, s.engagements)],
        [t("analytics.rate"), percent(language, s.engagement_rate)],
        [t("analytics.views"), number(language, s.views)],
        [t("analytics.reach"), number(language, s.reach)],
        [t("analytics.followers"), number(language, s.followers_gained)],
      ]
    : [];
  return (
    <div>
      <h1>{t("analytics.title")}</h1>
      <Section title={t("analytics.summary")} id="summary">
        {summary.isPending && <Loading />}
        <Failure error={summary.error} />
        <dl className="figures" data-testid="summary">
          {figures.map(([label, value]) => (
            <div key={label}>
              <dt>{label}</dt>
              <dd>{value}</dd>
            </div>
          ))}
        </dl>
      </Section>
      <Section title={t("analytics.chart")} id="chart">
        {chart ? <img src={chart} alt={t("analytics.chart")} className="chart" /> : <Loading />}
      </Section>
      <Section title={t("analytics.top")} id="top">
        <Failure error={top.error} />
        <table>
          <thead>
            <tr><th scope="col">{t("common.time")}</th><th scope="col">{t("common.network")}</th><th scope="col">{t("common.campaign")}</th><th scope="col">{t("analytics.engagements")}</th></tr>
          </thead>
          <tbody>
            {top.data?.items.map((p) => (
              <tr key={p.post_id}>
                <td>{p.published_at ? dateTime(language, p.published_at) : "–"}</td>
                <td>{p.networks.join(", ")}</td>
                <td dir="auto">{p.campaign ?? "–"}</td>
                <td>{number(language, p.value)}</td>
              </tr>
            ))}
          </tbody>
        </table>
        <button type="button" onClick={download}>{t("analytics.csv")}</button>
      </Section>
      <Section title={t("analytics.best")} id="best">
        {channels.data?.[0] ? <BestTimes channelId={channels.data[0].id} /> : <p className="muted">{t("common.none")}</p>}
      </Section>
      <Section title={t("analytics.conversions")} id="conversions">
        <Failure error={conversions.error} />
        <table>
          <thead>
            <tr><th scope="col">{t("common.campaign")}</th><th scope="col">{t("analytics.clicks")}</th><th scope="col">{t("analytics.conversionsCount")}</th><th scope="col">{t("analytics.rate")}</th></tr>
          </thead>
          <tbody>
            {conversions.data?.items.map((c) => (
              <tr key={c.key}>
                <td dir="auto">{c.key}</td>
                <td>{number(language, c.clicks)}</td>
                <td>{number(language, c.conversions)}</td>
                <td>{percent(language, c.rate)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </Section>
    </div>
  );
}

function BestTimes({ channelId }: { channelId: string }) {
  const { api, language } = useConsole();
  const best = useQuery({
    queryKey: ["best-times", channelId],
    queryFn: () => unwrap(api.GET("/v1/analytics/best-times", { params: { query: { channel_id: channelId } } })),
  });
  if (best.isPending) return <Loading />;
  if (!best.data) return <Failure error={best.error} />;
  // weekday 0 = Monday; 2024-01-01 was a Monday.
  const weekday = (i: number) => new Intl.DateTimeFormat(locale(language), { weekday: "short" }).format(new Date(2024, 0, 1 + i));
  const max = Math.max(0.0001, ...best.data.grid.flat().map((c) => c.score ?? 0));
  return (
    <table className="heatmap">
      <caption>{best.data.timezone}</caption>
      <thead>
        <tr><td />{Array.from({ length: 24 }, (_, h) => <th key={h} scope="col">{number(language, h)}</th>)}</tr>
      </thead>
      <tbody>
        {best.data.grid.map((row, d) => (
          <tr key={d}>
            <th scope="row">{weekday(d)}</th>
            {row.map((cell) => (
              <td key={cell.hour} style={{ opacity: 0.15 + 0.85 * ((cell.score ?? 0) / max) }} title={`${cell.posts}`}>
                <span className="visually-hidden">{number(language, cell.score ?? 0)}</span>
              </td>
            ))}
          </tr>
        ))}
      </tbody>
    </table>
  );
}
