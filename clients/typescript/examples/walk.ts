/**
 * The README's walk through the API, with the typed client: connect a sandbox X account,
 * schedule a post a few seconds ahead, see it published, receive a comment in the inbox,
 * reply, read the post's analytics.
 *
 *   HERALD_URL=http://localhost:8000 HERALD_KEY=hk_… SANDBOX_URL=http://localhost:8010 \
 *     node dist/examples/walk.js
 *
 * Prints one JSON line per step; exits non-zero when a step does not happen in time.
 */
import { createHerald, unwrap } from "../src/index.js";

const baseUrl = process.env.HERALD_URL ?? "http://localhost:8000";
const apiKey = process.env.HERALD_KEY ?? "";
const sandbox = process.env.SANDBOX_URL ?? "http://localhost:8010";
const deadlineMs = Number(process.env.WALK_DEADLINE_MS ?? 60_000);

const herald = createHerald({ baseUrl, apiKey });

function step(name: string, detail: Record<string, unknown>): void {
  console.log(JSON.stringify({ step: name, ...detail }));
}

async function sandboxCall<T>(path: string, body?: unknown): Promise<T> {
  const response = await fetch(`${sandbox}${path}`, {
    method: body === undefined ? "GET" : "POST",
    headers: { "content-type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (!response.ok) throw new Error(`sandbox ${path}: ${response.status}`);
  return (await response.json()) as T;
}

async function until<T>(what: string, probe: () => Promise<T | undefined>): Promise<T> {
  const end = Date.now() + deadlineMs;
  for (;;) {
    const found = await probe();
    if (found !== undefined) return found;
    if (Date.now() > end) throw new Error(`${what}: not within ${deadlineMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

/** A wall-clock time in a zone, as the API's local `at` (no offset). */
function localTime(date: Date, timeZone: string): string {
  const parts = new Intl.DateTimeFormat("en-CA", {
    timeZone,
    year: "numeric",
    month: "2-digit",
    day: "2-digit",
    hour: "2-digit",
    minute: "2-digit",
    second: "2-digit",
    hourCycle: "h23",
  }).formatToParts(date);
  const get = (type: string) => parts.find((p) => p.type === type)?.value ?? "00";
  return `${get("year")}-${get("month")}-${get("day")}T${get("hour")}:${get("minute")}:${get("second")}`;
}

async function main(): Promise<void> {
  // 1. A fake X account on the sandbox, connected as a channel.
  const account = await sandboxCall<{ external_id: string; credentials: Record<string, string> }>(
    "/_sandbox/x/accounts",
    { name: "Acme" },
  );
  const channel = await unwrap(
    herald.POST("/v1/channels", { body: { network: "x", credentials: account.credentials } }),
  );
  step("channel", { id: channel.id, network: channel.network, status: channel.status });

  // 2. A post a few seconds ahead in the workspace's time zone.
  const timezone = "Europe/London";
  const at = localTime(new Date(Date.now() + 3_000), timezone);
  const post = await unwrap(
    herald.POST("/v1/posts", {
      body: {
        text: "Hello from Herald",
        targets: [{ channel_id: channel.id }],
        schedule: { at, timezone },
      },
    }),
  );
  step("scheduled", { id: post.id, status: post.status, at });

  // 3. Published, with the network's id.
  const published = await until("published", async () => {
    const current = await unwrap(
      herald.GET("/v1/posts/{post_id}", { params: { path: { post_id: post.id } } }),
    );
    const target = current.targets[0];
    return target?.external_id ? target : undefined;
  });
  step("published", { external_id: published.external_id, url: published.url });

  // 4. A comment on the network reaches the inbox; the team answers it.
  await sandboxCall(`/_sandbox/x/posts/${published.external_id}/comments`, {
    text: "Love this!",
    author: "fan42",
  });
  const conversation = await until("comment in the inbox", async () => {
    const page = await unwrap(herald.GET("/v1/conversations", { params: { query: {} } }));
    return page.items.find((c) => c.post_id === post.id);
  });
  step("conversation", { id: conversation.id, network: conversation.network });
  const reply = await unwrap(
    herald.POST("/v1/conversations/{conversation_id}/replies", {
      params: { path: { conversation_id: conversation.id } },
      body: { text: "Thank you!" },
    }),
  );
  step("replied", { id: reply.id, direction: reply.direction });

  // 5. Metrics follows the post.
  const analytics = await unwrap(
    herald.GET("/v1/analytics/posts/{post_id}", { params: { path: { post_id: post.id } } }),
  );
  step("analytics", { post_id: post.id, keys: Object.keys(analytics as object) });
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? `${error.name}: ${error.message}` : error);
  process.exit(1);
});
