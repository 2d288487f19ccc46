// What every console page shares: hash routing, loading, time and errors.
import { useEffect, useState } from "preact/hooks";
import { ApiError } from "./api";

export const SEVERITIES = ["critical", "high", "medium", "low"] as const;
export const PAGE_SIZE = 20;

export function useRoute(): string {
  const [route, setRoute] = useState(location.hash.slice(1) || "/overview");
  useEffect(() => {
    const on = () => setRoute(location.hash.slice(1) || "/overview");
    addEventListener("hashchange", on);
    return () => removeEventListener("hashchange", on);
  }, []);
  return route;
}

export function go(route: string) {
  location.hash = route;
}

export function useLoad<T>(load: () => Promise<T>, deps: unknown[]): [T | null, string, () => void] {
  const [data, setData] = useState<T | null>(null);
  const [err, setErr] = useState("");
  const [n, setN] = useState(0);
  useEffect(() => {
    let live = true;
    load().then(
      (d) => live && (setData(d), setErr("")),
      (e) => {
        if (!live) return;
        if (e instanceof ApiError && e.status === 401) go("/login");
        setErr(e.message);
      },
    );
    return () => {
      live = false;
    };
  }, [...deps, n]);
  return [data, err, () => setN(n + 1)];
}

// "41 h 12 min left" until the GDPR art. 33 deadline, or how long overdue.
export function countdown(deadline: string, now: number): string {
  const ms = Date.parse(deadline) - now;
  const abs = Math.abs(ms);
  const h = Math.floor(abs / 3600e3);
  const m = Math.floor((abs % 3600e3) / 60e3);
  return ms >= 0 ? `${h} h ${m} min left` : `overdue by ${h} h ${m} min`;
}

export function useNow(): number {
  const [now, setNow] = useState(Date.now());
  useEffect(() => {
    const t = setInterval(() => setNow(Date.now()), 30e3);
    return () => clearInterval(t);
  }, []);
  return now;
}

export function ErrorLine({ msg }: { msg: string }) {
  return msg ? <p class="error" role="alert">{msg}</p> : null;
}
