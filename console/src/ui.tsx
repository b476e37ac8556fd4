/** Small pieces every screen uses: loading and error states, a network badge. */
import { HeraldError, unwrap } from "@herald/client";
import { useQuery } from "@tanstack/react-query";
import type { ReactNode } from "react";
import { useConsole } from "./context";
import { NETWORK_COLOURS } from "./format";

export function Loading() {
  const { t } = useConsole();
  return <p aria-busy="true">{t("common.loading")}</p>;
}

/** A problem from the API, with the field it names. */
export function Failure({ error }: { error: unknown }) {
  const { t } = useConsole();
  if (!error) return null;
  const detail =
    error instanceof HeraldError
      ? `${error.problem.title}${error.problem.detail ? `: ${error.problem.detail}` : ""}${error.field ? ` (${error.field})` : ""}`
      : error instanceof Error
        ? error.message
        : String(error);
  return (
    <p className="error" role="alert">
      {t("common.error")}: <span dir="auto">{detail}</span>
    </p>
  );
}

export function NetworkBadge({ network }: { network: string }) {
  return (
    <span className="badge" style={{ backgroundColor: NETWORK_COLOURS[network] ?? "#555" }}>
      {network}
    </span>
  );
}

export function Section({ title, children, id }: { title: string; children: ReactNode; id?: string }) {
  return (
    <section className="card" aria-labelledby={id}>
      <h2 id={id}>{title}</h2>
      {children}
    </section>
  );
}

/** The workspace's channels (the API lists them all on one page). */
export function useChannels() {
  const { api } = useConsole();
  return useQuery({
    queryKey: ["channels"],
    queryFn: async () => (await unwrap(api.GET("/v1/channels"))).items,
  });
}

/** The workspace's campaigns (one page holds them: a workspace has tens, not thousands). */
export function useCampaigns() {
  const { api } = useConsole();
  return useQuery({
    queryKey: ["campaigns"],
    queryFn: () => unwrap(api.GET("/v1/campaigns", { params: { query: { limit: 200 } } })),
  });
}

/** A network's poll, as `GET /v1/networks` states it (null: the network's API has none). */
export interface PollRules {
  min_options: number;
  max_options: number;
  max_option_length: number;
  min_minutes: number;
  max_minutes: number;
  allowed_minutes: number[] | null;
  multiple: boolean;
}

export interface NetworkRules {
  network: string;
  name: string;
  features: { poll: PollRules | null };
}

/** What each network accepts (the same table the API validates with). */
export function useNetworks() {
  const { api } = useConsole();
  return useQuery({
    queryKey: ["networks"],
    staleTime: Infinity,
    queryFn: async () => {
      const answer = await unwrap(api.GET("/v1/networks"));
      return new Map((answer.items as NetworkRules[]).map((n) => [n.network, n]));
    },
  });
}

/** Comma-separated words as a list, blanks dropped. */
export function words(text: string): string[] {
  return text.split(",").map((s) => s.trim()).filter(Boolean);
}
