/**
 * One message, a tab per network variant: each selected channel may carry its own text, first
 * comment and thread. Counters come from `POST /v1/posts/validate` (the API counts as each
 * network does: X weighted, Bluesky in graphemes) and show the exact rule that fails.
 */
import { unwrap, type Schemas } from "@herald/client";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useEffect, useMemo, useState, type FormEvent } from "react";
import { useConsole } from "../context";
import { localIso, number } from "../format";
import { Failure, NetworkBadge, useCampaigns, useChannels, useNetworks, words } from "../ui";
import { MediaPicker, Thumb } from "./Media";

type Channel = Schemas["ChannelOut"];
type Check = Schemas["TargetCheck"];
type When = "at" | "now" | "queue" | "best" | "draft";
interface Variant {
  text: string;
  firstComment: string;
  thread: string;
}
const EMPTY: Variant = { text: "", firstComment: "", thread: "" };
interface Poll {
  on: boolean;
  options: string;
  minutes: string;
  multiple: boolean;
}

function lines(text: string): string[] {
  return text.split("\n").map((l) => l.trim()).filter(Boolean);
}

export default function Composer() {
  const { api, t, language, announce, navigate } = useConsole();
  const queries = useQueryClient();
  const channels = useChannels();
  // The workspace's campaigns to choose from; a new name makes a new campaign.
  const campaigns = useCampaigns();
  const [text, setText] = useState("");
  const [picked, setPicked] = useState<string[]>([]);
  const [variants, setVariants] = useState<Record<string, Variant>>({});
  const [tab, setTab] = useState<string>("");
  const [media, setMedia] = useState("");
  const [library, setLibrary] = useState<Schemas["MediaOut"][]>([]);
  const [poll, setPoll] = useState<Poll>({ on: false, options: "", minutes: "1440", multiple: false });
  const [tags, setTags] = useState("");
  const [campaign, setCampaign] = useState("");
  const [when, setWhen] = useState<When>("at");
  const [timezone, setTimezone] = useState(() => Intl.DateTimeFormat().resolvedOptions().timeZone);
  const [at, setAt] = useState(() => localIso(new Date(Date.now() + 3_600_000), Intl.DateTimeFormat().resolvedOptions().timeZone).slice(0, 19));
  const [approval, setApproval] = useState(false);

  const chosen = useMemo(() => (channels.data ?? []).filter((c) => picked.includes(c.id)), [channels.data, picked]);
  useEffect(() => {
    if (chosen.length && !chosen.some((c) => c.id === tab)) setTab(chosen[0].id);
  }, [chosen, tab]);

  const body = useMemo((): Schemas["PostIn"] => {
    const targets = chosen.map((c) => {
      const v = variants[c.id] ?? EMPTY;
      const options: Record<string, unknown> = {};
      if (v.firstComment.trim()) options.first_comment = v.firstComment.trim();
      if (lines(v.thread).length) options.thread = lines(v.thread);
      // One poll for the post: a network without polls refuses it at validation, with why.
      if (poll.on) {
        options.poll = { options: lines(poll.options), duration_minutes: Number(poll.minutes), ...(poll.multiple ? { multiple: true } : {}) };
      }
      return { channel_id: c.id, text: v.text.trim() ? v.text : undefined, options };
    });
    const schedule: Schemas["ScheduleIn"] | undefined =
      when === "at" ? { at: at.length === 16 ? `${at}:00` : at, timezone } : when === "now" ? { now: true } : when === "queue" ? { queue: true } : when === "best" ? { best: true } : undefined;
    return {
      text,
      targets,
      media: [...library.map((m) => ({ media_id: m.id })), ...(media.trim() ? [{ url: media.trim() }] : [])],
      tags: words(tags),
      campaign: campaign.trim() || undefined,
      schedule,
    };
  }, [chosen, variants, text, media, library, poll, tags, campaign, when, at, timezone]);

  // Live counters: validate what is typed, a moment after typing stops.
  const [debounced, setDebounced] = useState(body);
  useEffect(() => {
    const timer = setTimeout(() => setDebounced(body), 250);
    return () => clearTimeout(timer);
  }, [body]);
  const check = useQuery({
    queryKey: ["validate", debounced],
    enabled: debounced.targets.length > 0,
    queryFn: () => unwrap(api.POST("/v1/posts/validate", { body: debounced })),
  });

  const submit = useMutation({
    mutationFn: async () => {
      const post = await unwrap(api.POST("/v1/posts", { body }));
      if (!approval) return post;
      return unwrap(
        api.POST("/v1/posts/{post_id}/submit", {
          params: { path: { post_id: post.id }, header: { "If-Match": `"${post.version}"` } },
        }),
      );
    },
    onSuccess: (post) => {
      announce(t("compose.created", { status: post.status }));
      void queries.invalidateQueries({ queryKey: ["calendar"] });
      navigate("calendar");
    },
  });

  const setVariant = (id: string, patch: Partial<Variant>) =>
    setVariants((all) => ({ ...all, [id]: { ...(all[id] ?? EMPTY), ...patch } }));
  const onSubmit = (event: FormEvent) => {
    event.preventDefault();
    submit.mutate();
  };
  const checks = new Map((check.data?.targets ?? []).map((c) => [c.channel_id, c]));
  const current = chosen.find((c) => c.id === tab);

  if (channels.data && channels.data.length === 0) return <p>{t("compose.noChannels")}</p>;
  return (
    <form className="composer" onSubmit={onSubmit}>
      <h1>{t("compose.title")}</h1>
      <fieldset>
        <legend>{t("compose.channels")}</legend>
        {channels.data?.map((c) => (
          <label key={c.id} className="inline check">
            <input
              type="checkbox"
              checked={picked.includes(c.id)}
              onChange={(e) => setPicked((p) => (e.target.checked ? [...p, c.id] : p.filter((x) => x !== c.id)))}
            />
            <NetworkBadge network={c.network} /> <span dir="auto">{c.name}</span>
          </label>
        ))}
      </fieldset>
      <label>
        {t("compose.text")}
        <textarea dir="auto" rows={4} value={text} onChange={(e) => setText(e.target.value)} />
      </label>
      {chosen.length > 0 && (
        <div className="variants">
          <div role="tablist" aria-label={t("compose.channels")} className="tabs">
            {chosen.map((c) => {
              const result = checks.get(c.id);
              return (
                <button
                  key={c.id}
                  type="button"
                  role="tab"
                  id={`tab-${c.id}`}
                  aria-selected={c.id === tab}
                  aria-controls={`panel-${c.id}`}
                  tabIndex={c.id === tab ? 0 : -1}
                  onClick={() => setTab(c.id)}
                  onKeyDown={(e) => {
                    const i = chosen.findIndex((x) => x.id === c.id);
                    const step = e.key === "ArrowRight" ? 1 : e.key === "ArrowLeft" ? -1 : 0;
                    if (step) {
                      const rtl = document.documentElement.dir === "rtl" ? -1 : 1;
                      const next = chosen[(i + step * rtl + chosen.length) % chosen.length];
                      setTab(next.id);
                      document.getElementById(`tab-${next.id}`)?.focus();
                    }
                  }}
                  className={result && !result.valid ? "invalid" : undefined}
                >
                  <NetworkBadge network={c.network} /> <span dir="auto">{c.name}</span>
                </button>
              );
            })}
          </div>
          {current && (
            <VariantPanel
              channel={current}
              variant={variants[current.id] ?? EMPTY}
              message={text}
              result={checks.get(current.id)}
              onChange={(patch) => setVariant(current.id, patch)}
              language={language}
              media={library}
            />
          )}
        </div>
      )}
      {chosen.length > 0 && <PollFields poll={poll} onChange={setPoll} chosen={chosen} checks={checks} />}
      {check.data?.valid && <p className="ok" role="status">{t("compose.valid")}</p>}
      <MediaPicker picked={library} onChange={setLibrary} />
      <label>
        {t("compose.media")}
        <input type="url" dir="ltr" value={media} onChange={(e) => setMedia(e.target.value)} />
      </label>
      <div className="row">
        <label>
          {t("compose.tags")}
          <input dir="auto" value={tags} onChange={(e) => setTags(e.target.value)} />
        </label>
        <label>
          {t("common.campaign")}
          <input dir="auto" list="campaign-names" value={campaign} onChange={(e) => setCampaign(e.target.value)} />
        </label>
        <datalist id="campaign-names">
          {campaigns.data?.items.map((c) => <option key={c.id} value={c.name} />)}
        </datalist>
      </div>
      <fieldset>
        <legend>{t("compose.when")}</legend>
        {(["at", "now", "queue", "best", "draft"] as When[]).map((w) => (
          <label key={w} className="inline check">
            <input type="radio" name="when" value={w} checked={when === w} onChange={() => setWhen(w)} />
            {t(`compose.${w}` as const)}
          </label>
        ))}
        {when === "at" && (
          <div className="row">
            <label>
              {t("compose.time")}
              <input type="datetime-local" step={1} value={at} onChange={(e) => setAt(e.target.value)} required />
            </label>
            <label>
              {t("compose.timezone")}
              <input dir="ltr" value={timezone} onChange={(e) => setTimezone(e.target.value)} />
            </label>
          </div>
        )}
      </fieldset>
      <label className="inline check">
        <input type="checkbox" checked={approval} onChange={(e) => setApproval(e.target.checked)} />
        {t("compose.submitApproval")}
      </label>
      <Failure error={submit.error} />
      <button type="submit" className="primary" disabled={submit.isPending || chosen.length === 0 || check.data?.valid === false}>
        {approval ? t("compose.submitApproval") : when === "draft" ? t("compose.draft") : t("compose.submit")}
      </button>
      <p className="muted">{number(language, chosen.length)} × {t("compose.channels")}</p>
    </form>
  );
}

function VariantPanel({
  channel,
  variant,
  message,
  result,
  onChange,
  language,
  media,
}: {
  channel: Channel;
  variant: Variant;
  message: string;
  result: Check | undefined;
  onChange: (patch: Partial<Variant>) => void;
  language: "en" | "he" | "is";
  media: Schemas["MediaOut"][];
}) {
  const { t } = useConsole();
  const shown = variant.text || message;
  return (
    <div role="tabpanel" id={`panel-${channel.id}`} aria-labelledby={`tab-${channel.id}`} className="panel">
      <div className="split">
        <div>
          <label>
            {t("compose.variant", { network: channel.network })}
            <textarea dir="auto" rows={3} value={variant.text} onChange={(e) => onChange({ text: e.target.value })} />
          </label>
          {result && (
            <p className={result.valid ? "counter" : "counter invalid"} data-testid={`counter-${channel.network}`}>
              {t("compose.counter", {
                length: number(language, result.length),
                limit: number(language, result.limit),
                counting: result.counting,
              })}
            </p>
          )}
          {result?.problems.map((p, i) => (
            <p key={i} className="error" role="alert" data-testid="rule">
              <code>{p.code}</code> <span dir="auto">{p.message}</span> <code>{p.field}</code>
            </p>
          ))}
          <label>
            {t("compose.firstComment")}
            <input dir="auto" value={variant.firstComment} onChange={(e) => onChange({ firstComment: e.target.value })} />
          </label>
          <label>
            {t("compose.thread")}
            <textarea dir="auto" rows={2} value={variant.thread} onChange={(e) => onChange({ thread: e.target.value })} />
          </label>
        </div>
        <div className={`preview preview-${channel.network}`} aria-label={t("compose.preview")} role="group">
          <p className="preview-head">
            <NetworkBadge network={channel.network} /> <strong dir="auto">{channel.name}</strong>{" "}
            {channel.username && <span className="muted">@{channel.username}</span>}
          </p>
          <p dir="auto" className="preview-text">{shown}</p>
          {media.length > 0 && <div className="row">{media.map((m) => <Thumb key={m.id} item={m} />)}</div>}
          {lines(variant.thread).map((part, i) => (
            <p key={i} dir="auto" className="preview-text thread">{part}</p>
          ))}
          {variant.firstComment && <p dir="auto" className="preview-comment">↳ {variant.firstComment}</p>}
        </div>
      </div>
    </div>
  );
}

/** The post's poll, and what each chosen network makes of it: its limits from the network's
 * rules, or the reason validation refuses it there. */
function PollFields({ poll, onChange, chosen, checks }: { poll: Poll; onChange: (poll: Poll) => void; chosen: Channel[]; checks: Map<string, Check> }) {
  const { t, language } = useConsole();
  const networks = useNetworks();
  const set = (patch: Partial<Poll>) => onChange({ ...poll, ...patch });
  // Several answers per voter, offered where a chosen network's polls allow it.
  const multiple = chosen.some((c) => networks.data?.get(c.network)?.features.poll?.multiple);
  return (
    <fieldset>
      <legend>{t("compose.pollAdd")}</legend>
      <label className="inline check">
        <input type="checkbox" checked={poll.on} onChange={(e) => set({ on: e.target.checked })} />
        {t("compose.pollAdd")}
      </label>
      {poll.on && (
        <div className="row">
          <label>
            {t("compose.poll")}
            <textarea dir="auto" rows={4} value={poll.options} onChange={(e) => set({ options: e.target.value })} />
          </label>
          <label>
            {t("compose.pollMinutes")}
            <input type="number" min={1} step={1} value={poll.minutes} onChange={(e) => set({ minutes: e.target.value })} />
          </label>
          {multiple && (
            <label className="inline check">
              <input type="checkbox" checked={poll.multiple} onChange={(e) => set({ multiple: e.target.checked })} />
              {t("compose.pollMultiple")}
            </label>
          )}
        </div>
      )}
      <ul className="plain" data-testid="poll-networks">
        {chosen.map((c) => {
          const rules = networks.data?.get(c.network);
          const limits = rules?.features.poll;
          const refusals = (checks.get(c.id)?.problems ?? []).filter((p) => p.field?.startsWith("options.poll"));
          const minutes = limits?.allowed_minutes
            ? limits.allowed_minutes.map((m) => number(language, m)).join(", ")
            : limits && `${number(language, limits.min_minutes)}–${number(language, limits.max_minutes)}`;
          return (
            <li key={c.id} data-network={c.network}>
              <NetworkBadge network={c.network} />{" "}
              {limits
                ? t("compose.pollRules", { network: rules.name, options: `${limits.min_options}–${limits.max_options}`, length: limits.max_option_length, minutes: minutes ?? "" })
                : t("compose.pollNone", { network: rules?.name ?? c.network })}
              {poll.on && refusals.map((p, i) => (
                <p key={i} className="error" data-testid="poll-refused">
                  <code>{p.code}</code> <span>{p.message}</span>
                </p>
              ))}
            </li>
          );
        })}
      </ul>
    </fieldset>
  );
}
