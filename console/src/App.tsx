import { unwrap } from "@herald/client";
import { useQueryClient } from "@tanstack/react-query";
import { lazy, Suspense, useCallback, useEffect, useMemo, useState, type FormEvent } from "react";
import { ConsoleContext, type Console } from "./context";
import { browserLanguage, isRtl, LANGUAGES, rememberLanguage, translator, type Key, type Language } from "./i18n";
import { clientFor, storedActive, storedWorkspaces, storeWorkspaces, type Workspace } from "./session";
import { CrisisBanner } from "./screens/CrisisBanner";

// Each screen is its own chunk: the first load carries only the shell and the screen shown.
const SCREENS: Record<string, { label: Key; component: React.LazyExoticComponent<() => React.JSX.Element> }> = {
  calendar: { label: "nav.calendar", component: lazy(() => import("./screens/Calendar")) },
  posts: { label: "nav.posts", component: lazy(() => import("./screens/Posts")) },
  compose: { label: "nav.compose", component: lazy(() => import("./screens/Composer")) },
  media: { label: "nav.media", component: lazy(() => import("./screens/Media")) },
  approvals: { label: "nav.approvals", component: lazy(() => import("./screens/Approvals")) },
  inbox: { label: "nav.inbox", component: lazy(() => import("./screens/Inbox")) },
  campaigns: { label: "nav.campaigns", component: lazy(() => import("./screens/Campaigns")) },
  alerts: { label: "nav.alerts", component: lazy(() => import("./screens/Alerts")) },
  analytics: { label: "nav.analytics", component: lazy(() => import("./screens/Analytics")) },
  settings: { label: "nav.settings", component: lazy(() => import("./screens/Settings")) },
};
const BASE = "/console/";

function currentScreen(): string {
  const rest = window.location.pathname.startsWith(BASE) ? window.location.pathname.slice(BASE.length) : "";
  const name = rest.split("/")[0];
  return name in SCREENS ? name : "calendar";
}

export function App() {
  const [language, setLanguage] = useState<Language>(browserLanguage);
  const [workspaces, setWorkspaces] = useState<Workspace[]>(storedWorkspaces);
  const [active, setActive] = useState(() => Math.min(storedActive(), Math.max(storedWorkspaces().length - 1, 0)));
  const [screen, setScreen] = useState(currentScreen);
  const [adding, setAdding] = useState(false);
  const [message, setMessage] = useState("");
  const queries = useQueryClient();
  const t = useMemo(() => translator(language), [language]);

  useEffect(() => {
    document.documentElement.lang = language;
    document.documentElement.dir = isRtl(language) ? "rtl" : "ltr";
  }, [language]);
  useEffect(() => {
    document.title = `${t(SCREENS[screen].label)} · Herald`;
  }, [screen, t]);
  useEffect(() => {
    const onPop = () => setScreen(currentScreen());
    window.addEventListener("popstate", onPop);
    return () => window.removeEventListener("popstate", onPop);
  }, []);

  const navigate = useCallback((path: string) => {
    window.history.pushState(null, "", BASE + path);
    setScreen(currentScreen());
    document.getElementById("main")?.focus();
  }, []);

  const workspace = workspaces[active];
  const value: Console | null = useMemo(
    () =>
      workspace
        ? { api: clientFor(workspace.key), workspace: workspace.name, language, t, navigate, announce: setMessage }
        : null,
    [workspace, language, t, navigate],
  );

  const chooseLanguage = (next: Language) => {
    rememberLanguage(next);
    setLanguage(next);
  };
  const signIn = (added: Workspace) => {
    const next = [...workspaces, added];
    storeWorkspaces(next, next.length - 1);
    setWorkspaces(next);
    setActive(next.length - 1);
    setAdding(false);
  };
  const switchTo = (index: number) => {
    storeWorkspaces(workspaces, index);
    setActive(index);
    queries.clear();
  };
  const signOut = () => {
    const next = workspaces.filter((_, i) => i !== active);
    storeWorkspaces(next, 0);
    setWorkspaces(next);
    setActive(0);
    queries.clear();
  };

  const languagePicker = (
    <label className="inline">
      {t("lang.label")}{" "}
      <select value={language} onChange={(e) => chooseLanguage(e.target.value as Language)}>
        {LANGUAGES.map((l) => (
          <option key={l.code} value={l.code} lang={l.code}>
            {l.name}
          </option>
        ))}
      </select>
    </label>
  );

  if (!value || adding) {
    return (
      <main id="main" className="signin" tabIndex={-1}>
        <div className="signin-lang">{languagePicker}</div>
        <SignIn t={t} onSignIn={signIn} onCancel={value ? () => setAdding(false) : undefined} />
      </main>
    );
  }
  const Screen = SCREENS[screen].component;
  return (
    <ConsoleContext.Provider value={value}>
      <a className="skip" href="#main">
        {t("app.skip")}
      </a>
      <header className="top">
        <span className="brand">{t("app.name")}</span>
        <nav aria-label={t("nav.label")}>
          <ul>
            {Object.entries(SCREENS).map(([name, s]) => (
              <li key={name}>
                <a
                  href={BASE + name}
                  aria-current={name === screen ? "page" : undefined}
                  onClick={(e) => {
                    e.preventDefault();
                    navigate(name);
                  }}
                >
                  {t(s.label)}
                </a>
              </li>
            ))}
          </ul>
        </nav>
        <div className="top-tools">
          <label className="inline">
            {t("workspace.label")}{" "}
            <select value={active} onChange={(e) => switchTo(Number(e.target.value))}>
              {workspaces.map((w, i) => (
                <option key={i} value={i}>
                  {w.name}
                </option>
              ))}
            </select>
          </label>
          <button type="button" onClick={() => setAdding(true)}>
            {t("workspace.add")}
          </button>
          <button type="button" onClick={signOut}>
            {t("workspace.signout")}
          </button>
          {languagePicker}
        </div>
      </header>
      <CrisisBanner />
      <main id="main" tabIndex={-1}>
        <Suspense fallback={<p>{t("common.loading")}</p>}>
          <Screen />
        </Suspense>
      </main>
      <div className="sr-status" role="status" aria-live="polite">
        {message}
      </div>
    </ConsoleContext.Provider>
  );
}

function SignIn({
  t,
  onSignIn,
  onCancel,
}: {
  t: ReturnType<typeof translator>;
  onSignIn: (w: Workspace) => void;
  onCancel?: () => void;
}) {
  const [key, setKey] = useState("");
  const [name, setName] = useState("");
  const [error, setError] = useState("");
  const [busy, setBusy] = useState(false);
  const submit = async (event: FormEvent) => {
    event.preventDefault();
    setBusy(true);
    setError("");
    try {
      // Any listing the key may read proves it; channels are what every role sees.
      await unwrap(clientFor(key.trim()).GET("/v1/channels"));
      onSignIn({ key: key.trim(), name: name.trim() || `${key.trim().slice(0, 12)}…` });
    } catch {
      setError(t("signin.bad"));
    } finally {
      setBusy(false);
    }
  };
  return (
    <form className="card signin-form" onSubmit={submit}>
      <h1>{t("signin.title")}</h1>
      <p>{t("signin.help")}</p>
      <label>
        {t("signin.key")}
        <input
          type="password"
          autoComplete="off"
          required
          value={key}
          onChange={(e) => setKey(e.target.value)}
          aria-invalid={error ? true : undefined}
          aria-describedby={error ? "signin-error" : undefined}
        />
      </label>
      <label>
        {t("signin.name")}
        <input value={name} dir="auto" onChange={(e) => setName(e.target.value)} />
      </label>
      {error && (
        <p id="signin-error" className="error" role="alert">
          {error}
        </p>
      )}
      <div className="row">
        <button type="submit" className="primary" disabled={busy}>
          {t("signin.submit")}
        </button>
        {onCancel && (
          <button type="button" onClick={onCancel}>
            {t("common.cancel")}
          </button>
        )}
      </div>
    </form>
  );
}
