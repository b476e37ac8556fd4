/** Dates, times and numbers through Intl, in the interface's language. */
import type { Language } from "./i18n";

const LOCALES: Record<Language, string> = { en: "en-GB", he: "he-IL", is: "is-IS" };

export function locale(language: Language): string {
  return LOCALES[language];
}

export function dateTime(language: Language, value: string | Date, timeZone?: string): string {
  return new Intl.DateTimeFormat(locale(language), {
    dateStyle: "medium",
    timeStyle: "short",
    timeZone,
  }).format(new Date(value));
}

export function time(language: Language, value: string | Date, timeZone?: string): string {
  return new Intl.DateTimeFormat(locale(language), { timeStyle: "short", timeZone }).format(
    new Date(value),
  );
}

export function number(language: Language, value: number, options?: Intl.NumberFormatOptions): string {
  return new Intl.NumberFormat(locale(language), options).format(value);
}

export function percent(language: Language, value: number | null | undefined): string {
  if (value === null || value === undefined) return "–";
  return new Intl.NumberFormat(locale(language), { style: "percent", maximumFractionDigits: 2 }).format(value);
}

/** "2026-12-04T10:30:00" (a wall-clock time without offset) → its parts, no zone applied. */
export function wallClock(local: string): { day: string; time: string } {
  return { day: local.slice(0, 10), time: local.slice(11, 16) };
}

/** The wall-clock time of `date` in `timeZone`, as the API's local `at` (no offset). */
export function localIso(date: Date, timeZone: string): string {
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

export const NETWORK_COLOURS: Record<string, string> = {
  x: "#0f1419",
  facebook: "#1559c7",
  instagram: "#b3246f",
  linkedin: "#0a5a91",
  tiktok: "#0b6e69",
  youtube: "#b00000",
  threads: "#3d3d3d",
  mastodon: "#4b3fc4",
  bluesky: "#0560c4",
};

export const NETWORKS = Object.keys(NETWORK_COLOURS);
