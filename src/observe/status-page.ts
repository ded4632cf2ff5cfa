// The status page, rendered on the server from a StatusSnapshot: one HTML document
// with inline CSS and a small inline script, no external resource and no front-end
// build. The script fetches the page's fragment every 2 s (same origin, so the
// browser resends the Basic credentials it prompted for) and swaps it in, so the
// page follows the App without a reload. Every value goes through `escape`.
// The CSS and script are constants so the handler can allow exactly them by hash
// in its Content-Security-Policy.
import { createHash } from "node:crypto";
import type { IsoTime, StatusSnapshot } from "./status-snapshot.js";

/** Where the script fetches the fresh fragment from (served by status-handler.ts). */
export const FRAGMENT_PATH = "/status?fragment=1";
const REFRESH_MS = 2000;

const STYLE = `
:root { color-scheme: light dark; --fg: #1b1f24; --muted: #59636e; --bg: #fff; --line: #d1d9e0; --card: #f6f8fa; --ok: #1a7f37; --warn: #9a6700; --bad: #cf222e; }
@media (prefers-color-scheme: dark) { :root { --fg: #e6edf3; --muted: #9198a1; --bg: #0d1117; --line: #3d444d; --card: #151b23; --ok: #3fb950; --warn: #d29922; --bad: #f85149; } }
* { box-sizing: border-box; }
body { margin: 0; padding: 12px; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; color: var(--fg); background: var(--bg); }
header { display: flex; flex-wrap: wrap; align-items: baseline; gap: 4px 12px; }
h1 { font-size: 18px; margin: 0; }
h2 { font-size: 15px; margin: 20px 0 6px; }
.muted, #updated { color: var(--muted); }
#updated.stale { color: var(--bad); }
.cards { display: grid; grid-template-columns: repeat(auto-fit, minmax(140px, 1fr)); gap: 8px; margin-top: 12px; }
.card { background: var(--card); border: 1px solid var(--line); border-radius: 6px; padding: 8px 10px; min-width: 0; }
.card b { display: block; font-size: 20px; overflow-wrap: anywhere; }
.scroll { overflow-x: auto; max-width: 100%; }
.scroll + .scroll { margin-top: 12px; }
table { border-collapse: collapse; width: 100%; }
th, td { text-align: left; padding: 4px 8px; border-bottom: 1px solid var(--line); vertical-align: top; }
td { overflow-wrap: anywhere; }
th { font-weight: 600; white-space: nowrap; }
td.n, th.n { text-align: right; font-variant-numeric: tabular-nums; }
.ok { color: var(--ok); } .warn { color: var(--warn); } .bad { color: var(--bad); }
ul { margin: 4px 0; padding-left: 20px; }
@media (max-width: 600px) { body { padding: 8px; } th, td { padding: 3px 5px; } }
`;

// Plain ES2017, no dependency. Errors are shown in the header, never thrown, so a
// brief outage of the App does not fill the console or stop the refresh.
const SCRIPT = `
(function () {
  var main = document.getElementById("status");
  var updated = document.getElementById("updated");
  var busy = false;
  function tick() {
    if (busy || document.hidden) return;
    busy = true;
    fetch(${JSON.stringify(FRAGMENT_PATH)}, { credentials: "same-origin", cache: "no-store" })
      .then(function (res) {
        if (!res.ok) throw new Error("HTTP " + res.status);
        return res.text();
      })
      .then(function (html) {
        main.innerHTML = html;
        updated.className = "";
        updated.textContent = "live, refreshed " + new Date().toLocaleTimeString();
      })
      .catch(function (error) {
        updated.className = "stale";
        updated.textContent = "not refreshed (" + error.message + "), retrying";
      })
      .then(function () { busy = false; });
  }
  setInterval(tick, ${REFRESH_MS});
})();
`;

function sha256(text: string): string {
  return `'sha256-${createHash("sha256").update(text, "utf8").digest("base64")}'`;
}

/** The Content-Security-Policy the page needs: its own inline CSS and script, fetches to itself, nothing else. */
export const STATUS_PAGE_CSP = [
  "default-src 'none'",
  `style-src ${sha256(STYLE)}`,
  `script-src ${sha256(SCRIPT)}`,
  "connect-src 'self'",
  "img-src 'none'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join("; ");

const ENTITIES: Record<string, string> = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" };

export function escape(value: unknown): string {
  return String(value ?? "").replace(/[&<>"']/g, (c) => ENTITIES[c] ?? c);
}

function seconds(from: IsoTime | undefined, to: IsoTime): number | undefined {
  if (!from) return undefined;
  const ms = Date.parse(to) - Date.parse(from);
  return Number.isFinite(ms) ? Math.max(0, Math.round(ms / 1000)) : undefined;
}

function duration(s: number | undefined): string {
  if (s === undefined) return "–";
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min ${s % 60} s`;
  return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`;
}

function ago(at: IsoTime | undefined, now: IsoTime): string {
  const s = seconds(at, now);
  return s === undefined ? "never" : `${duration(s)} ago`;
}

/** "10:04:05" in UTC, the full time in the title attribute. */
function time(at: IsoTime): string {
  const date = new Date(at);
  const short = Number.isNaN(date.getTime()) ? at : date.toISOString().slice(11, 19);
  return `<time datetime="${escape(at)}" title="${escape(at)}">${escape(short)}</time>`;
}

function dollars(value: number): string {
  return `$${value >= 1 ? value.toFixed(2) : value.toFixed(4)}`;
}

function table(headers: string[], rows: string[], empty: string): string {
  if (rows.length === 0) return `<p class="muted">${escape(empty)}</p>`;
  const head = headers.map((h) => (h.startsWith("#") ? `<th class="n">${escape(h.slice(1))}</th>` : `<th>${escape(h)}</th>`)).join("");
  return `<div class="scroll"><table><thead><tr>${head}</tr></thead><tbody>${rows.join("")}</tbody></table></div>`;
}

const n = (value: number | string): string => `<td class="n">${escape(value)}</td>`;
const td = (value: string): string => `<td>${value}</td>`;

const OUTCOME_CLASS: Record<string, string> = {
  started: "ok",
  "already-served": "ok",
  completed: "ok",
  failed: "bad",
  refused: "warn",
  waiting: "warn",
  "retry-later": "warn",
};
const STATE_CLASS: Record<string, string> = { busy: "ok", idle: "warn", finished: "muted", closed: "ok", "half-open": "warn", open: "bad" };

function cls(map: Record<string, string>, key: string): string {
  return `<span class="${map[key] ?? ""}">${escape(key)}</span>`;
}

/** The part of the page that refreshes: everything below the header. */
export function renderStatusFragment(s: StatusSnapshot): string {
  const now = s.generatedAt;
  const account = new Map(s.installations.map((i) => [i.id, i.account]));
  const who = (id: number): string => `${escape(account.get(id) ?? "?")} <span class="muted">#${escape(id)}</span>`;
  const total = (key: "waiting" | "dispatching" | "running"): number => s.jobs.reduce((sum, j) => sum + j[key], 0);
  const spent = s.spendToday.reduce((sum, x) => sum + x.dollars, 0);
  const last = s.reconciler.lastPass;

  const cards = [
    ["Waiting", String(total("waiting"))],
    ["Dispatching", String(total("dispatching"))],
    ["Running", String(total("running"))],
    ["Sandboxes", String(s.sandboxes.filter((x) => x.state !== "finished").length)],
    ["Spend today", dollars(spent)],
    ["Modal", cls(STATE_CLASS, s.modalBreaker.state)],
    ["Reconciled", last ? `<span class="${last.ok ? "ok" : "bad"}">${escape(ago(last.at, now))}</span>` : "never"],
  ]
    .map(([label, value]) => `<div class="card"><span class="muted">${escape(label)}</span><b>${value}</b></div>`)
    .join("");

  const jobs = table(
    ["Installation", "Profile", "#Waiting", "#Dispatching", "#Running"],
    s.jobs.map((j) => `<tr>${td(who(j.installation))}${td(escape(j.profile))}${n(j.waiting)}${n(j.dispatching)}${n(j.running)}</tr>`),
    "No jobs.",
  );

  const sandboxes = table(
    ["Sandbox", "Age", "Job", "Repository", "Profile", "State"],
    s.sandboxes.map(
      (x) =>
        `<tr data-sandbox="${escape(x.name)}">${td(escape(x.name))}${td(escape(duration(seconds(x.createdAt, now))))}${td(escape(x.jobId ?? "–"))}${td(escape(x.repo ?? "–"))}${td(escape(x.profile))}${td(cls(STATE_CLASS, x.state))}</tr>`,
    ),
    "No sandboxes.",
  );

  const outcomes = table(
    ["Time", "Job", "Repository", "Outcome", "Reason"],
    s.outcomes.map(
      (o) =>
        `<tr data-job="${escape(o.jobId)}">${td(time(o.at))}${td(escape(o.jobId))}${td(escape(o.repo))}${td(cls(OUTCOME_CLASS, o.kind))}${td(escape(o.reason ?? ""))}</tr>`,
    ),
    "No job handled yet.",
  );

  const repairs = last ? Object.entries(last.repairs).filter(([, count]) => count > 0) : [];
  const reconciler = last
    ? `<p>Last pass ${time(last.at)} (${escape(ago(last.at, now))}): <span class="${last.ok ? "ok" : "bad"}">${last.ok ? "ok" : "failed"}</span> in ${escape(last.durationMs)} ms.
Last good pass: ${s.reconciler.lastSuccessAt ? `${time(s.reconciler.lastSuccessAt)} (${escape(ago(s.reconciler.lastSuccessAt, now))})` : "never"}.</p>
${repairs.length ? `<ul>${repairs.map(([kind, count]) => `<li>${escape(kind)}: ${escape(count)}</li>`).join("")}</ul>` : `<p class="muted">No repairs needed.</p>`}
${last.errors.length ? `<ul class="bad">${last.errors.map((e) => `<li>${escape(e)}</li>`).join("")}</ul>` : ""}`
    : `<p class="muted">No pass yet.</p>`;

  const budget = table(
    ["Installation", "#Remaining", "#Limit", "#Headroom", "Resets"],
    s.installations.map((i) => {
      const b = i.githubBudget;
      if (!b) return `<tr>${td(who(i.id))}${n("–")}${n("–")}${n("–")}${td("–")}</tr>`;
      const pct = b.limit > 0 ? Math.round((100 * b.remaining) / b.limit) : 0;
      const level = pct < 10 ? "bad" : pct < 25 ? "warn" : "ok";
      return `<tr>${td(who(i.id))}${n(b.remaining)}${n(b.limit)}<td class="n ${level}">${escape(pct)}%</td>${td(b.resetAt ? time(b.resetAt) : "–")}</tr>`;
    }),
    "No installation.",
  );

  const breaker = s.modalBreaker;
  const modal = `<p>Breaker ${cls(STATE_CLASS, breaker.state)}${breaker.since ? ` since ${time(breaker.since)}` : ""}${breaker.nextProbeAt ? `, next probe ${time(breaker.nextProbeAt)}` : ""}.</p>`;

  const sum = (key: (x: StatusSnapshot["spendToday"][number]) => string): [string, number][] => {
    const totals = new Map<string, number>();
    for (const x of s.spendToday) totals.set(key(x), (totals.get(key(x)) ?? 0) + x.dollars);
    return [...totals].sort((a, b) => b[1] - a[1]);
  };
  const spendByInstallation = table(
    ["Installation", "#Spend"],
    sum((x) => String(x.installation)).map(([id, value]) => `<tr>${td(who(Number(id)))}${n(dollars(value))}</tr>`),
    "Nothing spent today.",
  );
  const spendByProfile = table(
    ["Profile", "#Spend"],
    sum((x) => x.profile).map(([profile, value]) => `<tr>${td(escape(profile))}${n(dollars(value))}</tr>`),
    "Nothing spent today.",
  );

  return `<p class="muted">Snapshot ${time(now)} UTC</p>
<div class="cards">${cards}</div>
<h2>Jobs</h2>${jobs}
<h2>Sandboxes</h2>${sandboxes}
<h2>Recent outcomes</h2>${outcomes}
<h2>Reconciler</h2>${reconciler}
<h2>GitHub rate limit</h2>${budget}
<h2>Modal</h2>${modal}
<h2>Estimated spend today (UTC)</h2>${spendByInstallation}${spendByProfile}${renderFleet(s, now)}`;
}

/** The replicas of a fleet sharing Redis (absent for a single process). */
function renderFleet(s: StatusSnapshot, now: IsoTime): string {
  if (!s.fleet) return "";
  const rows = s.fleet.replicas.map(
    (r) =>
      `<tr>${td(escape(r.replica))}${td(escape(r.health))}${td(escape(ago(r.startedAt, now)))}${td(escape(ago(r.seenAt, now)))}${n(r.waiting)}${n(r.dispatching)}${td(escape(ago(r.lastPassAt, now)))}</tr>`,
  );
  return `
<h2>Fleet</h2><p>${escape(s.fleet.health === "ok" ? `shared through Redis; this page from ${s.fleet.replica}` : s.fleet.health)}</p>${table(
    ["Replica", "Health", "Started", "Seen", "#Waiting", "#Dispatching", "Last pass"],
    rows,
    "No replica has published its view yet.",
  )}`;
}

export function renderStatusPage(snapshot: StatusSnapshot): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>modal-github-runner · status</title>
<style>${STYLE}</style>
</head>
<body>
<header><h1>modal-github-runner</h1><span id="updated">refreshes every ${REFRESH_MS / 1000} s</span></header>
<main id="status">${renderStatusFragment(snapshot)}</main>
<script>${SCRIPT}</script>
</body>
</html>
`;
}
