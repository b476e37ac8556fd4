/**
 * The Herald public API, typed from the merged OpenAPI document (src/schema.d.ts is generated:
 * `npm run generate` after `make openapi`). Every call goes through the gateway with a
 * workspace API key; errors come back as RFC 9457 problems.
 */
import createClient, { type Client, type Middleware } from "openapi-fetch";
import type { components, paths } from "./schema.js";

export type { components, paths } from "./schema.js";
export type Schemas = components["schemas"];
export type Problem = Schemas["Problem"];
/** JSON answers: an endpoint that can also draw a chart or write CSV is typed by its JSON. */
export type Json = `${string}/json`;
export type HeraldClient = Client<paths, Json>;

export interface HeraldOptions {
  /** The gateway's address, e.g. http://localhost:8000 (empty: the page's own origin). */
  baseUrl: string;
  /** A workspace API key (`hk_…`), sent as a bearer token. */
  apiKey: string;
  /** A fetch of one's own (tests, server-side rendering); the global one otherwise. */
  fetch?: typeof globalThis.fetch;
}

/** A client of every public path, authenticated with the workspace's key. */
export function createHerald(options: HeraldOptions): HeraldClient {
  const client = createClient<paths, Json>({
    baseUrl: options.baseUrl.replace(/\/$/, ""),
    fetch: options.fetch,
  });
  const auth: Middleware = {
    onRequest({ request }) {
      request.headers.set("Authorization", `Bearer ${options.apiKey}`);
      return request;
    },
  };
  client.use(auth);
  return client;
}

/** A problem answered by the API, thrown by `unwrap`. */
export class HeraldError extends Error {
  readonly status: number;
  readonly problem: Problem;

  constructor(status: number, problem: Problem) {
    super(problem.detail ?? problem.title ?? `HTTP ${status}`);
    this.name = "HeraldError";
    this.status = status;
    this.problem = problem;
  }

  /** The field the API names as wrong, if any. */
  get field(): string | undefined {
    return this.problem.field ?? undefined;
  }
}

interface Answer<T> {
  data?: T;
  error?: unknown;
  response: Response;
}

/** The answer's data, or a HeraldError carrying the problem. */
export async function unwrap<T>(call: Promise<Answer<T>>): Promise<T> {
  const { data, error, response } = await call;
  if (error !== undefined || !response.ok) {
    const problem =
      error && typeof error === "object" && "title" in error
        ? (error as Problem)
        : { type: "about:blank", title: response.statusText, status: response.status };
    throw new HeraldError(response.status, problem);
  }
  return data as T;
}
