/**
 * The signed-in workspaces: API keys kept in session storage (gone when the tab closes), one of
 * them active. An agency user adds one key per client workspace and switches between them.
 */
import { createHerald, type HeraldClient } from "@herald/client";

export interface Workspace {
  name: string;
  key: string;
}

const KEYS = "herald.workspaces";
const ACTIVE = "herald.active";

export function storedWorkspaces(): Workspace[] {
  try {
    const parsed: unknown = JSON.parse(sessionStorage.getItem(KEYS) ?? "[]");
    return Array.isArray(parsed) ? (parsed as Workspace[]) : [];
  } catch {
    return [];
  }
}

export function storedActive(): number {
  return Number(sessionStorage.getItem(ACTIVE) ?? 0);
}

export function storeWorkspaces(workspaces: Workspace[], active: number): void {
  sessionStorage.setItem(KEYS, JSON.stringify(workspaces));
  sessionStorage.setItem(ACTIVE, String(active));
}

/** The API at the page's own origin: the gateway serves the console and the API alike. */
export function clientFor(key: string): HeraldClient {
  return createHerald({ baseUrl: window.location.origin, apiKey: key });
}
