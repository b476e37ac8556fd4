/**
 * The media library: upload a file once (multipart `POST /v1/media`), find it again by name,
 * alt text or tag, delete it; and, for one file, what each connected network would say of it
 * (the API's own preflight: `POST /v1/posts/validate` with the file on a channel of each
 * network, its media rules only). The composer picks from the same library.
 */
import { unwrap, type Schemas } from "@herald/client";
import { useInfiniteQuery, useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useState, type FormEvent } from "react";
import { useConsole } from "../context";
import { dateTime, number } from "../format";
import { Failure, Loading, NetworkBadge, Section, useChannels, words } from "../ui";

type Item = Schemas["MediaOut"];
const PAGE = 24;

/** The library, newest first, a page at a time, searched by `q` and kind. */
export function useLibrary(q: string, kind: string) {
  const { api } = useConsole();
  return useInfiniteQuery({
    queryKey: ["media", q, kind],
    initialPageParam: undefined as string | undefined,
    getNextPageParam: (page: Schemas["MediaPage"]) => page.next_cursor ?? undefined,
    queryFn: ({ pageParam }) =>
      unwrap(
        api.GET("/v1/media", {
          params: { query: { q: q.trim() || undefined, kind: kind || undefined, cursor: pageParam, limit: PAGE } },
        }),
      ),
  });
}

function size(language: "en" | "he" | "is", bytes: number): string {
  return number(language, bytes / 1024, { style: "unit", unit: "kilobyte", maximumFractionDigits: 1 });
}

export default function Media() {
  const { api, t, announce } = useConsole();
  const queries = useQueryClient();
  const [q, setQ] = useState("");
  const [kind, setKind] = useState("");
  const [selected, setSelected] = useState<Item | null>(null);
  const library = useLibrary(q, kind);
  const remove = useMutation({
    mutationFn: (id: string) => unwrap(api.DELETE("/v1/media/{media_id}", { params: { path: { media_id: id } } })),
    onSuccess: (_, id) => {
      announce(t("media.deleted"));
      if (selected?.id === id) setSelected(null);
      void queries.invalidateQueries({ queryKey: ["media"] });
    },
  });
  const items = library.data?.pages.flatMap((p) => p.items) ?? [];

  return (
    <div>
      <h1>{t("media.title")}</h1>
      <Upload onUploaded={setSelected} />
      <div className="row">
        <label>
          {t("media.search")}
          <input type="search" dir="auto" value={q} onChange={(e) => setQ(e.target.value)} />
        </label>
        <label>
          {t("media.kind")}
          <select value={kind} onChange={(e) => setKind(e.target.value)}>
            <option value="">{t("common.all")}</option>
            {["image", "video", "gif"].map((k) => <option key={k} value={k}>{k}</option>)}
          </select>
        </label>
      </div>
      <div className="inbox-layout">
        <section className="card" aria-label={t("media.title")}>
          {library.isPending && <Loading />}
          <Failure error={library.error ?? remove.error} />
          {library.isSuccess && items.length === 0 && <p className="muted">{t("common.none")}</p>}
          <ul className="plain media-list" data-ready={library.isSuccess && !library.isFetching ? "true" : undefined}>
            {items.map((m) => (
              <li key={m.id} data-testid="media-row" className="media-row">
                <Thumb item={m} />
                <div>
                  <strong dir="auto">{m.name}</strong>
                  <br />
                  <span className="muted">{m.kind} · {m.width} × {m.height} · <span dir="auto">{m.tags.join(", ")}</span></span>
                  <div className="row">
                    <button type="button" aria-pressed={selected?.id === m.id} onClick={() => setSelected(m)}>{t("media.preflight")}</button>
                    <button type="button" onClick={() => remove.mutate(m.id)}>{t("common.delete")}</button>
                  </div>
                </div>
              </li>
            ))}
          </ul>
          {library.hasNextPage && (
            <button type="button" onClick={() => void library.fetchNextPage()} disabled={library.isFetchingNextPage}>
              {t("media.more")}
            </button>
          )}
        </section>
        <section className="card" aria-label={t("media.preflight")}>
          {selected ? <Details item={selected} /> : <p className="muted">{t("inbox.select")}</p>}
        </section>
      </div>
    </div>
  );
}

export function Thumb({ item }: { item: Item }) {
  // The alt text is the file's own; a file without one is only decoration beside its name.
  return item.kind === "video" ? (
    <span className="thumb" aria-hidden="true">▶</span>
  ) : (
    <img className="thumb" src={item.url} alt={item.alt ?? ""} loading="lazy" />
  );
}

function Upload({ onUploaded }: { onUploaded: (item: Item) => void }) {
  const { api, t, announce } = useConsole();
  const queries = useQueryClient();
  const [file, setFile] = useState<File | null>(null);
  const [alt, setAlt] = useState("");
  const [tags, setTags] = useState("");
  const upload = useMutation({
    mutationFn: () => {
      const form = new FormData();
      form.append("file", file as File);
      if (alt.trim()) form.append("alt", alt.trim());
      if (words(tags).length) form.append("tags", words(tags).join(","));
      // The client is typed by the JSON body (an import by URL); FormData goes out as multipart.
      return unwrap(api.POST("/v1/media", { body: form as unknown as { url: string } }));
    },
    onSuccess: (item) => {
      announce(t("media.uploaded", { name: item.name }));
      setFile(null);
      setAlt("");
      setTags("");
      onUploaded(item);
      void queries.invalidateQueries({ queryKey: ["media"] });
    },
  });
  const submit = (event: FormEvent<HTMLFormElement>) => {
    event.preventDefault();
    upload.mutate(undefined, { onSuccess: () => (event.target as HTMLFormElement).reset() });
  };
  return (
    <Section title={t("media.upload")} id="upload">
      <form className="row" onSubmit={submit}>
        <label>
          {t("media.file")}
          <input type="file" required accept="image/*,video/*" onChange={(e) => setFile(e.target.files?.[0] ?? null)} />
        </label>
        <label>
          {t("media.alt")}
          <input dir="auto" value={alt} onChange={(e) => setAlt(e.target.value)} />
        </label>
        <label>
          {t("compose.tags")}
          <input dir="auto" value={tags} onChange={(e) => setTags(e.target.value)} />
        </label>
        <button type="submit" className="primary" disabled={!file || upload.isPending}>{t("media.upload")}</button>
      </form>
      <Failure error={upload.error} />
    </Section>
  );
}

function Details({ item }: { item: Item }) {
  const { t, language } = useConsole();
  return (
    <div>
      <h2 dir="auto">{item.name}</h2>
      <Thumb item={item} />
      <dl className="facts">
        <dt>{t("media.kind")}</dt>
        <dd>{item.mime} · {item.width} × {item.height} ({item.aspect_ratio}) · {size(language, item.size_bytes)}{item.duration_s ? ` · ${number(language, item.duration_s)} s` : ""}</dd>
        <dt>{t("media.alt")}</dt>
        <dd dir="auto">{item.alt ?? "–"}</dd>
        <dt>{t("common.created")}</dt>
        <dd>{dateTime(language, item.created_at)}</dd>
      </dl>
      <h3>{t("media.preflight")}</h3>
      <Preflight id={item.id} />
    </div>
  );
}

/** What each connected network says of the file: its media rules, from the API's validation. */
function Preflight({ id }: { id: string }) {
  const { api, t } = useConsole();
  const channels = useChannels();
  // One channel of each network is enough: the rules are the network's.
  const perNetwork = [...new Map((channels.data ?? []).map((c) => [c.network, c])).values()];
  const check = useQuery({
    queryKey: ["preflight", id, perNetwork.map((c) => c.id)],
    enabled: perNetwork.length > 0,
    queryFn: () =>
      unwrap(
        api.POST("/v1/posts/validate", {
          body: { text: "", media: [{ media_id: id }], targets: perNetwork.map((c) => ({ channel_id: c.id })) },
        }),
      ),
  });
  if (channels.isSuccess && perNetwork.length === 0) return <p className="muted">{t("media.noChannels")}</p>;
  if (!check.data) return check.error ? <Failure error={check.error} /> : <Loading />;
  return (
    <ul className="plain" data-testid="preflight">
      {check.data.targets.map((target) => {
        const problems = target.problems.filter((p) => p.field?.startsWith("media"));
        const refused = problems.some((p) => p.severity !== "warning");
        return (
          <li key={target.channel_id} data-network={target.network}>
            <NetworkBadge network={target.network} />{" "}
            <span className={refused ? "error" : "ok"}>{refused ? "✗" : `✓ ${t("media.fits")}`}</span>
            {problems.map((p, i) => (
              <p key={i} className={p.severity === "warning" ? "muted" : "error"}>
                <code>{p.code}</code> <span>{p.message}</span>
              </p>
            ))}
          </li>
        );
      })}
    </ul>
  );
}

/** The library inside the composer: tick files to attach them as `{"media_id"}`. */
export function MediaPicker({ picked, onChange }: { picked: Item[]; onChange: (items: Item[]) => void }) {
  const { t } = useConsole();
  const [q, setQ] = useState("");
  const library = useLibrary(q, "");
  const items = library.data?.pages.flatMap((p) => p.items) ?? [];
  const toggle = (item: Item, on: boolean) =>
    onChange(on ? [...picked, item] : picked.filter((p) => p.id !== item.id));
  return (
    <fieldset className="picker">
      <legend>{t("media.pick")}</legend>
      <label>
        {t("media.search")}
        <input type="search" dir="auto" value={q} onChange={(e) => setQ(e.target.value)} />
      </label>
      {library.isPending && <Loading />}
      <ul className="plain media-grid">
        {items.map((m) => (
          <li key={m.id}>
            <label className="inline check">
              <input type="checkbox" checked={picked.some((p) => p.id === m.id)} onChange={(e) => toggle(m, e.target.checked)} />
              <Thumb item={m} /> <span dir="auto">{m.name}</span>
            </label>
          </li>
        ))}
      </ul>
      {library.hasNextPage && (
        <button type="button" onClick={() => void library.fetchNextPage()}>{t("media.more")}</button>
      )}
    </fieldset>
  );
}
