/** What every screen needs: the API client of the active workspace and the interface's words. */
import type { HeraldClient } from "@herald/client";
import { createContext, useContext } from "react";
import type { Language, Translate } from "./i18n";

export interface Console {
  api: HeraldClient;
  workspace: string;
  language: Language;
  t: Translate;
  navigate: (path: string) => void;
  announce: (message: string) => void;
}

export const ConsoleContext = createContext<Console | null>(null);

export function useConsole(): Console {
  const value = useContext(ConsoleContext);
  if (!value) throw new Error("useConsole outside the console");
  return value;
}
