/**
 * Campaigns: the list, a form to create or edit one (name, dates, goal, the UTM parameters its
 * links get, tags; edits sent with the campaign's version in If-Match), and the campaign's
 * report (`GET /v1/campaigns/{id}/report`): reach, engagements, clicks, conversions and the
 * conversion rate, in total and per network, and how far the goal is.
 */
import { unwrap, type Schemas } from "@herald/client";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useState, type FormEvent } from "react";
import { useConsole } from "../context";
import { number, percent } from "../format";
import { Failure, Loading, NetworkBadge, Section, useCampaigns, words } from "../ui";

type Campaign = Schemas["CampaignOut"];
type Figures = Schemas["CampaignFigures"];
const METRICS = ["conversions", "clicks", "reach", "engagements"] as const;
const UTM = ["source", "medium", "campaign", "term", "content"] as const;
// The report follows the numbers as metrics receives them.
const REPORT_POLL_MS = 5_000;

interface Form {
  name: string;
  starts: string;
  ends: string;
  metric: (typeof METRICS)[number];
  target: string;
  utm: Record<(typeof UTM)[number], string>;
  tags: string;
}

const BLANK: Form = { name: "", starts: "", ends: "", metric: "conversions", target: "", utm: { source: "", medium: "", campaign: "", term: "", content: "" }, tags: "" };

/** A day as the browser's calendar shows it, from an instant. */
function day(value: string | null): string {
  if (!value) return "";
  const d = new Date(value);
  return `${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, "0")}-${String(d.getDate()).padStart(2, "0")}`;
}

function formOf(c: Campaign): Form {
  const utm = { ...BLANK.utm };
  for (const k of UTM) utm[k] = c.utm[k] ?? "";
  return {
    name: c.name,
    starts: day(c.starts_at),
    ends: day(c.ends_at),
    metric: (c.goal?.metric ?? "conversions") as Form["metric"],
    target: c.goal ? String(c.goal.target) : "",
    utm,
    tags: c.tags.join(", "),
  };
}

/** The form as the API's body: a campaign runs from the start of its first day to the end of
 * its last, in the browser's time zone; empty fields clear. */
function bodyOf(f: Form): Schemas["CampaignIn"] {
  const utm = Object.fromEntries(UTM.filter((k) => f.utm[k].trim()).map((k) => [k, f.utm[k].trim()]));
  return {
    name: f.name.trim(),
    starts_at: f.starts ? new Date(`${f.starts}T00:00:00`).toISOString() : null,
    ends_at: f.ends ? new Date(`${f.ends}T23:59:59`).toISOString() : null,
    goal: f.target ? { metric: f.metric, target: Number(f.target) } : null,
    utm: Object.keys(utm).length ? utm : null,
    tags: words(f.tags),
  };
}

export default function Campaigns() {
  const { t } = useConsole();
  const [open, setOpen] = useState<Campaign | null>(null);
  const [creating, setCreating] = useState(false);
  const list = useCampaigns();
  return (
    <div>
      <div className="toolbar">
        <h1>{t("campaigns.title")}</h1>
        <button type="button" className="primary" onClick={() => { setOpen(null); setCreating(true); }}>{t("campaigns.new")}</button>
      </div>
      <div className="inbox-layout">
        <section className="card" aria-label={t("campaigns.title")}>
          {list.isPending && <Loading />}
          <Failure error={list.error} />
          {list.data?.items.length === 0 && <p className="muted">{t("common.none")}</p>}
          <ul className="plain">
            {list.data?.items.map((c) => (
              <li key={c.id} data-testid="campaign-row">
                <button type="button" className="conversation" aria-pressed={open?.id === c.id} onClick={() => { setCreating(false); setOpen(c); }}>
                  <strong dir="auto">{c.name}</strong>
                  <br />
                  <span className="muted">{day(c.starts_at) || "…"} – {day(c.ends_at) || "…"}{c.tags.length ? " · " : ""}<span dir="auto">{c.tags.join(", ")}</span></span>
                </button>
              </li>
            ))}
          </ul>
        </section>
        <div>
          {creating && <CampaignForm key="new" onSaved={(c) => { setCreating(false); setOpen(c); }} />}
          {open && !creating && (
            <>
              <CampaignForm key={`${open.id}-${open.version}`} campaign={open} onSaved={setOpen} />
              <Report id={open.id} />
            </>
          )}
          {!open && !creating && <p className="muted card">{t("inbox.select")}</p>}
        </div>
      </div>
    </div>
  );
}

function CampaignForm({ campaign, onSaved }: { campaign?: Campaign; onSaved: (c: Campaign) => void }) {
  const { api, t, announce } = useConsole();
  const queries = useQueryClient();
  const [form, setForm] = useState<Form>(() => (campaign ? formOf(campaign) : BLANK));
  const save = useMutation({
    mutationFn: () =>
      campaign
        ? unwrap(
            api.PATCH("/v1/campaigns/{campaign_id}", {
              params: { path: { campaign_id: campaign.id }, header: { "If-Match": `"${campaign.version}"` } },
              body: bodyOf(form),
            }),
          )
        : unwrap(api.POST("/v1/campaigns", { body: bodyOf(form) })),
    onSuccess: (saved) => {
      announce(t("campaigns.saved"));
      void queries.invalidateQueries({ queryKey: ["campaigns"] });
      onSaved(saved);
    },
  });
  const set = (patch: Partial<Form>) => setForm((f) => ({ ...f, ...patch }));
  const submit = (event: FormEvent) => {
    event.preventDefault();
    save.mutate();
  };
  const title = campaign ? t("campaigns.edit") : t("campaigns.new");
  return (
    <Section title={title} id="campaign-form">
      <form onSubmit={submit}>
        <label>
          {t("campaigns.name")}
          <input dir="auto" required maxLength={200} value={form.name} onChange={(e) => set({ name: e.target.value })} />
        </label>
        <div className="row">
          <label>
            {t("campaigns.starts")}
            <input type="date" value={form.starts} onChange={(e) => set({ starts: e.target.value })} />
          </label>
          <label>
            {t("campaigns.ends")}
            <input type="date" value={form.ends} onChange={(e) => set({ ends: e.target.value })} />
          </label>
        </div>
        <fieldset>
          <legend>{t("campaigns.goal")}</legend>
          <div className="row">
            <label>
              {t("campaigns.goalMetric")}
              <select value={form.metric} onChange={(e) => set({ metric: e.target.value as Form["metric"] })}>
                {METRICS.map((m) => <option key={m} value={m}>{m}</option>)}
              </select>
            </label>
            <label>
              {t("campaigns.goalTarget")}
              <input type="number" min={1} step="any" value={form.target} onChange={(e) => set({ target: e.target.value })} />
            </label>
          </div>
        </fieldset>
        <fieldset>
          <legend>{t("campaigns.utm")}</legend>
          <div className="row">
            {UTM.map((k) => (
              <label key={k}>
                utm_{k}
                <input dir="ltr" value={form.utm[k]} onChange={(e) => set({ utm: { ...form.utm, [k]: e.target.value } })} />
              </label>
            ))}
          </div>
        </fieldset>
        <label>
          {t("compose.tags")}
          <input dir="auto" value={form.tags} onChange={(e) => set({ tags: e.target.value })} />
        </label>
        <Failure error={save.error} />
        <button type="submit" className="primary" disabled={save.isPending}>{t("common.save")}</button>
      </form>
    </Section>
  );
}

function Report({ id }: { id: string }) {
  const { api, t, language } = useConsole();
  const report = useQuery({
    queryKey: ["campaign-report", id],
    refetchInterval: REPORT_POLL_MS,
    queryFn: () => unwrap(api.GET("/v1/campaigns/{campaign_id}/report", { params: { path: { campaign_id: id } } })),
  });
  const r = report.data;
  const cells = (f: Figures) => [
    number(language, f.posts),
    number(language, f.reach),
    number(language, f.engagements),
    number(language, f.clicks),
    number(language, f.conversions),
    percent(language, f.conversion_rate),
  ];
  return (
    <Section title={t("campaigns.report")} id="campaign-report">
      {report.isPending && <Loading />}
      <Failure error={report.error} />
      {r?.goal && (
        <p data-testid="goal">
          {t("campaigns.goal")}:{" "}
          {t("campaigns.progress", { actual: number(language, r.goal.actual), target: number(language, r.goal.target), metric: r.goal.metric })}{" "}
          <progress max={1} value={Math.min(r.goal.progress, 1)} aria-label={t("campaigns.goal")} />
        </p>
      )}
      {r && (
        <table className="list" data-testid="campaign-report">
          <thead>
            <tr>
              <th scope="col">{t("common.network")}</th>
              <th scope="col">{t("campaigns.posts")}</th>
              <th scope="col">{t("analytics.reach")}</th>
              <th scope="col">{t("analytics.engagements")}</th>
              <th scope="col">{t("analytics.clicks")}</th>
              <th scope="col">{t("analytics.conversionsCount")}</th>
              <th scope="col">{t("campaigns.rate")}</th>
            </tr>
          </thead>
          <tbody>
            {r.networks.map((n) => (
              <tr key={n.network} data-network={n.network}>
                <th scope="row"><NetworkBadge network={n.network} /></th>
                {cells(n).map((v, i) => <td key={i}>{v}</td>)}
              </tr>
            ))}
            <tr data-network="total">
              <th scope="row">{t("campaigns.total")}</th>
              {cells(r.totals).map((v, i) => <td key={i}>{v}</td>)}
            </tr>
          </tbody>
        </table>
      )}
    </Section>
  );
}
