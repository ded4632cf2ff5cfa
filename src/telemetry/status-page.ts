// The status page, rendered on the server from a StatusSnapshot: one HTML document
// with inline CSS and a small inline script, no external resource and no front-end
// build. The script fetches the page's fragment every 2 s (same origin, so the
// browser resends the Basic credentials it prompted for) and swaps it in, so the
// page follows the App without a reload. Every value goes through `escape`.
// The CSS and script are constants so the handler can allow exactly them by hash
// in its Content-Security-Policy.
import { createHash } from "node:crypto";
import type { IsoTime, StatusSnapshot } from "./status-snapshot.js";
import { describeRunnerCurrency, type RunnerCurrency } from "./runner-currency.js";

/** Where the script fetches the fresh fragment from (served by status-handler.ts), with the page's own filters added. */
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
h3 { font-size: 14px; margin: 12px 0 4px; }
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
.nowrap, time { white-space: nowrap; }
.filters a { margin-right: 8px; } .filters a.on { font-weight: 600; text-decoration: none; color: var(--fg); }
a { color: inherit; }
/* A phone shows each row as a small card: one "label value" line per cell. */
@media (max-width: 600px) {
  body { padding: 8px; }
  thead { display: none; }
  table, tbody, tr, td { display: block; width: 100%; }
  tr { border-bottom: 1px solid var(--line); padding: 4px 0; }
  td { border: 0; padding: 1px 0; display: flex; gap: 8px; justify-content: space-between; text-align: right; }
  td.n { text-align: right; }
  td::before { content: attr(data-label); color: var(--muted); text-align: left; flex: none; }
  td > div { min-width: 0; }
}
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
    var query = location.search ? "&" + location.search.slice(1) : "";
    fetch(${JSON.stringify(FRAGMENT_PATH)} + query, { credentials: "same-origin", cache: "no-store" })
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

interface Row {
  /** Attributes of the <tr> (already escaped). */
  attrs?: string;
  cells: string[];
}

/** A table whose cells carry their header as data-label, so a phone shows each row as a labelled card. */
function table(headers: string[], rows: Row[], empty: string): string {
  if (rows.length === 0) return `<p class="muted">${escape(empty)}</p>`;
  const numeric = headers.map((h) => h.startsWith("#"));
  const label = headers.map((h) => (h.startsWith("#") ? h.slice(1) : h));
  const head = label.map((h, i) => `<th${numeric[i] ? ' class="n"' : ""}>${escape(h)}</th>`).join("");
  const body = rows
    .map(
      (row) =>
        `<tr${row.attrs ? ` ${row.attrs}` : ""}>${row.cells.map((cell, i) => `<td${numeric[i] ? ' class="n"' : ""} data-label="${escape(label[i])}"><div>${cell}</div></td>`).join("")}</tr>`,
    )
    .join("");
  return `<div class="scroll"><table><thead><tr>${head}</tr></thead><tbody>${body}</tbody></table></div>`;
}

const OUTCOME_CLASS: Record<string, string> = {
  success: "ok",
  running: "ok",
  starting: "ok",
  failure: "bad",
  stopped: "bad",
  cancelled: "muted",
  refused: "warn",
  waiting: "warn",
  queued: "warn",
};
const STATE_CLASS: Record<string, string> = { busy: "ok", idle: "warn", finished: "muted" };

function cls(map: Record<string, string>, key: string): string {
  return `<span class="${map[key] ?? ""}">${escape(key)}</span>`;
}

/** The outcomes the page offers as filters (any other value in the query also works). */
const OUTCOME_FILTERS = ["success", "failure", "cancelled", "stopped", "refused", "running", "waiting", "queued"];
/** Rows of job stories the HTML page shows (status.json has them all). */
const MAX_STORY_ROWS = 200;

export interface StoryFilter {
  installation?: string | undefined;
  repo?: string | undefined;
  outcome?: string | undefined;
}

function filterLink(filter: StoryFilter, change: StoryFilter, text: string, on: boolean): string {
  const query = new URLSearchParams();
  for (const [key, value] of Object.entries({ ...filter, ...change })) if (value) query.set(key, value);
  const search = query.toString();
  return `<a href="/status${search ? `?${escape(search)}` : ""}"${on ? ' class="on"' : ""}>${escape(text)}</a>`;
}

function reachability(name: string, r: StatusSnapshot["modal"], now: IsoTime): string {
  if (r.reachable) return `<p>${escape(name)}: <span class="ok">reachable</span>.</p>`;
  const since = r.since ? ` since ${time(r.since)} (${escape(ago(r.since, now))})` : "";
  const next = r.nextTryAt ? `, next try in ${escape(duration(seconds(now, r.nextTryAt) ?? 0))}` : "";
  return `<p>${escape(name)}: <span class="bad">unreachable</span>${since}${next}${r.reason ? `: ${escape(r.reason)}` : ""}.</p>`;
}

/** The part of the page that refreshes: everything below the header. */
export function renderStatusFragment(s: StatusSnapshot, filter: StoryFilter = {}): string {
  const now = s.generatedAt;
  const account = new Map(s.installations.map((i) => [i.id, i.account]));
  const who = (id: number): string => `${escape(account.get(id) ?? "?")} <span class="muted">#${escape(id)}</span>`;
  const total = (key: "waiting" | "dispatching" | "running"): number => s.jobs.reduce((sum, j) => sum + j[key], 0);
  const spent = s.spendToday.reduce((sum, x) => sum + x.dollars, 0);
  const last = s.reconciler.lastPass;
  const word = (r: { reachable: boolean }) => (r.reachable ? `<span class="ok">reachable</span>` : `<span class="bad">unreachable</span>`);

  const cards = [
    ["Waiting", String(total("waiting"))],
    ["Dispatching", String(total("dispatching"))],
    ["Running", String(total("running"))],
    ["Sandboxes", String(s.sandboxes.filter((x) => x.state !== "finished").length)],
    ["Spend today", dollars(spent)],
    ["Modal", word(s.modal)],
    ["GitHub", word(s.github)],
    ["Reconciled", last ? `<span class="${last.ok ? "ok" : "bad"}">${escape(ago(last.at, now))}</span>` : "never"],
  ]
    .map(([label, value]) => `<div class="card"><span class="muted">${escape(label)}</span><b>${value}</b></div>`)
    .join("");

  const doctor = s.doctor
    ? table(
        ["Check", "Status", "Detail", "Fix"],
        s.doctor.map((d) => ({
          cells: [escape(d.check), cls({ ok: "ok", warn: "warn", fail: "bad" }, d.status), escape(d.detail), escape(d.fix ?? "")],
        })),
        "No checks.",
      )
    : `<p class="muted">The start-up checks have not run (yet).</p>`;
  const health = `${reachability("Modal", s.modal, now)}${reachability("GitHub", s.github, now)}${redisHealth(s.fleet)}<h3>Start-up checks</h3>${doctor}`;

  const queueTimes = table(
    ["Profile", "#Jobs", "#p50", "#p90", "#p99", "#Max"],
    s.queueTimes.map((q) => ({
      cells: [
        escape(q.profile),
        escape(q.jobs),
        ...[q.p50, q.p90, q.p99, q.max].map((x) => `<span class="nowrap">${escape(duration(x))}</span>`),
      ],
    })),
    "No job started in the last hour.",
  );

  const jobs = table(
    ["Installation", "Profile", "#Waiting", "#Dispatching", "#Running"],
    s.jobs.map((j) => ({ cells: [who(j.installation), escape(j.profile), escape(j.waiting), escape(j.dispatching), escape(j.running)] })),
    "No jobs.",
  );

  const outcomeLinks = [
    filterLink(filter, { outcome: undefined }, "all", !filter.outcome),
    ...OUTCOME_FILTERS.map((o) => filterLink(filter, { outcome: o }, o, filter.outcome === o)),
  ];
  const narrowed =
    filter.installation || filter.repo
      ? ` · showing ${escape([filter.installation, filter.repo].filter(Boolean).join(" "))} ${filterLink({}, { outcome: filter.outcome }, "show all", false)}`
      : "";
  // Spaces between the links: a phone wraps them.
  const filters = `<p class="filters">Outcome: ${outcomeLinks.join(" ")}${narrowed}</p>`;
  const shown = s.jobStories.slice(0, MAX_STORY_ROWS);
  const stories = table(
    ["Job", "Repository", "Outcome", "Queued", "#Queue", "#Run", "Runner", "Profile", "#Cost"],
    shown.map((j) => {
      const name = `${escape(j.name)} <span class="muted nowrap">#${escape(j.jobId)}</span>`;
      const outcome = [
        cls(OUTCOME_CLASS, j.outcome),
        j.stoppedBy ? `<br><span class="muted">by ${escape(j.stoppedBy)}</span>` : "",
        j.via === "reconciler" ? `<br><span class="muted">found by the reconciler</span>` : "",
        j.waitedFor && j.outcome !== "waiting" ? `<br><span class="muted">waited: ${escape(j.waitedFor)}</span>` : "",
        j.note && (j.outcome === "refused" || j.outcome === "waiting" || j.outcome === "queued")
          ? `<br><span class="muted">${escape(j.note)}</span>`
          : "",
      ].join("");
      const runner = j.runner
        ? `${escape(j.runner)}${j.runnerMadeFor !== undefined ? `<br><span class="warn">made for job ${escape(j.runnerMadeFor)}</span>` : ""}`
        : j.sandbox
          ? escape(j.sandbox)
          : "–";
      return {
        attrs: `data-job="${escape(j.jobId)}" data-outcome="${escape(j.outcome)}"`,
        cells: [
          j.htmlUrl && /^https?:\/\//.test(j.htmlUrl) ? `<a href="${escape(j.htmlUrl)}" rel="noreferrer">${name}</a>` : name,
          `${filterLink(filter, { repo: j.repo }, j.repo, false)}<br>${filterLink(filter, { installation: String(j.installationId) }, account.get(j.installationId) ?? String(j.installationId), false)}`,
          outcome,
          j.queuedAt ? time(j.queuedAt) : "–",
          `<span class="nowrap">${escape(duration(j.queueSeconds))}</span>`,
          `<span class="nowrap">${escape(duration(j.runSeconds))}</span>`,
          runner,
          escape(j.profile ?? "–"),
          j.dollars === undefined ? "–" : escape(dollars(j.dollars)),
        ],
      };
    }),
    "No job matches.",
  );
  const more =
    s.jobStories.length > shown.length
      ? `<p class="muted">Showing the newest ${shown.length} of ${s.jobStories.length}; filter to narrow, or read /status.json.</p>`
      : "";

  const sandboxes = table(
    ["Sandbox", "Age", "Made for job", "Running job", "Repository", "Profile", "State"],
    s.sandboxes.map((x) => ({
      attrs: `data-sandbox="${escape(x.name)}"`,
      cells: [
        escape(x.name),
        `<span class="nowrap">${escape(duration(seconds(x.createdAt, now)))}</span>`,
        escape(x.madeFor ?? "–"),
        escape(x.jobId ?? "–"),
        escape(x.repo ?? "–"),
        escape(x.profile),
        cls(STATE_CLASS, x.state),
      ],
    })),
    "No sandboxes.",
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
      if (!b) return { cells: [who(i.id), "–", "–", "–", "–"] };
      const pct = b.limit > 0 ? Math.round((100 * b.remaining) / b.limit) : 0;
      const level = pct < 10 ? "bad" : pct < 25 ? "warn" : "ok";
      return {
        cells: [
          who(i.id),
          escape(b.remaining),
          escape(b.limit),
          `<span class="${level}">${escape(pct)}%</span>`,
          b.resetAt ? time(b.resetAt) : "–",
        ],
      };
    }),
    "No installation.",
  );

  const sum = (key: (x: StatusSnapshot["spendToday"][number]) => string): [string, number][] => {
    const totals = new Map<string, number>();
    for (const x of s.spendToday) totals.set(key(x), (totals.get(key(x)) ?? 0) + x.dollars);
    return [...totals].sort((a, b) => b[1] - a[1]);
  };
  const spendByInstallation = table(
    ["Installation", "#Spend"],
    sum((x) => String(x.installation)).map(([id, value]) => ({ cells: [who(Number(id)), escape(dollars(value))] })),
    "Nothing spent today.",
  );
  const spendByProfile = table(
    ["Profile", "#Spend"],
    sum((x) => x.profile).map(([profile, value]) => ({ cells: [escape(profile), escape(dollars(value))] })),
    "Nothing spent today.",
  );

  return `<p class="muted">Snapshot ${time(now)} UTC</p>
<div class="cards">${cards}</div>${runnerVersionNotice(s.runnerVersion)}
<h2>Health</h2>${health}
<h2>Queue time, last hour</h2>${queueTimes}
<h2>Jobs now</h2>${jobs}
<h2>Every job (last 24 h)</h2>${filters}${stories}${more}
<h2>Sandboxes</h2>${sandboxes}
<h2>Reconciler</h2>${reconciler}
<h2>GitHub rate limit</h2>${budget}
<h2>Estimated spend today (UTC)</h2>${spendByInstallation}${spendByProfile}${renderFleet(s, now)}`;
}

/** The replicas of a fleet sharing Redis (absent for a single process). */
function renderFleet(s: StatusSnapshot, now: IsoTime): string {
  if (!s.fleet) return "";
  const rows = s.fleet.replicas.map((r) => ({
    cells: [
      escape(r.replica),
      escape(r.health),
      escape(ago(r.startedAt, now)),
      escape(ago(r.seenAt, now)),
      escape(r.waiting),
      escape(r.dispatching),
      escape(ago(r.lastPassAt, now)),
    ],
  }));
  return `
<h2>Fleet</h2><p>This page is from replica ${escape(s.fleet.replica)}.</p>${table(
    ["Replica", "Health", "Started", "Seen", "#Waiting", "#Dispatching", "Last pass"],
    rows,
    "No replica has published its view yet.",
  )}`;
}

/** Redis, in the health section's plain words (a fleet only). */
function redisHealth(fleet: StatusSnapshot["fleet"]): string {
  if (!fleet) return "";
  return fleet.mode === "shared"
    ? `<p>Redis: <span class="ok">reachable</span>; the fleet shares claims, caps and GitHub budgets.</p>`
    : `<p>Redis: <span class="bad">${escape(fleet.health)}</span>; each replica serves on its share of the caps and budgets.</p>`;
}

/** A line under the cards when the image's runner is behind GitHub's latest release; nothing otherwise. */
function runnerVersionNotice(currency: RunnerCurrency | undefined): string {
  if (!currency || currency.state === "current" || currency.state === "unknown") return "";
  const level = currency.state === "deadline" ? "bad" : "warn";
  return `\n<p class="${level}" data-runner-version="${escape(currency.state)}">${escape(describeRunnerCurrency(currency))}</p>`;
}

export function renderStatusPage(snapshot: StatusSnapshot, filter: StoryFilter = {}): string {
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
<main id="status">${renderStatusFragment(snapshot, filter)}</main>
<script>${SCRIPT}</script>
</body>
</html>
`;
}
