// Every setting the App reads from its environment, in one place: name, rule,
// default and the sentence the README's settings table shows. Probot's and the
// Modal SDK's standard variables are listed too, so one check covers them all.
import { z } from "zod";
import { duration, sandboxLifetime } from "../lib/duration.js";
import { patternListProblem } from "../model/repository-patterns.js";

const bool = () =>
  z.string().transform((raw, ctx) => {
    const value = raw.trim().toLowerCase();
    if (["1", "true", "yes", "on"].includes(value)) return true;
    if (["0", "false", "no", "off"].includes(value)) return false;
    ctx.addIssue({ code: "custom", message: "expected true or false" });
    return z.NEVER;
  });

const list = () =>
  z.string().transform((raw) =>
    raw
      .split(/[\s,]+/)
      .map((entry) => entry.trim())
      .filter((entry) => entry !== ""),
  );

/** A list of repository patterns, bounded (each pattern's length, their number): the matcher's work stays small. */
const repositoryPatterns = () =>
  list().superRefine((patterns, ctx) => {
    const problem = patternListProblem(patterns);
    if (problem !== undefined) ctx.addIssue({ code: "custom", message: problem });
  });

const positiveNumber = () => z.coerce.number().positive();
const positiveInteger = () => z.coerce.number().int().positive();

/** Names Modal accepts for apps and sandboxes; runner names must also fit them. */
const modalName = z.string().regex(/^[A-Za-z0-9._-]{1,63}$/, "only letters, digits, '.', '_' and '-', at most 63 characters");

export interface SettingDefinition {
  /** What the README says about it. */
  description: string;
  /** The default as the README shows it; absent when the setting is required or has none. */
  shownDefault?: string;
  schema: z.ZodType;
  /** Read by Probot or the Modal SDK themselves; we only check them. */
  standard?: "probot" | "modal";
  secret?: boolean;
}

/** The commands that read settings: `npm start`, `npm run reconcile`, `npm run doctor`. */
export type Command = "server" | "reconcile" | "doctor";
export const COMMANDS: readonly Command[] = ["server", "reconcile", "doctor"];

export const SETTINGS = {
  APP_ID: {
    standard: "probot",
    description: "The GitHub App's id. Without it `npm start` serves the App-creation (manifest) page instead.",
    schema: positiveInteger(),
  },
  PRIVATE_KEY: {
    standard: "probot",
    secret: true,
    description: "The App's private key (PEM; `\\n`-escaped or base64 also accepted). Or use PRIVATE_KEY_PATH.",
    schema: z.string().optional(),
  },
  PRIVATE_KEY_PATH: { standard: "probot", description: "Path of the App's private key file.", schema: z.string().optional() },
  WEBHOOK_SECRET: {
    standard: "probot",
    secret: true,
    description: "The App's webhook secret, at least 16 characters; deliveries with a wrong signature are refused.",
    // A short secret can be guessed offline from one captured delivery's signature.
    schema: z
      .string()
      .min(1)
      .min(
        16,
        "must be at least 16 characters; rotate it: generate one (`openssl rand -hex 32`), paste it into the App's settings page on GitHub (Webhook secret), then set the same value here and restart",
      ),
  },
  GHE_HOST: {
    standard: "probot",
    description: "GitHub Enterprise Server host (e.g. `github.example.com`); unset for github.com.",
    schema: z.string().optional(),
  },
  GHE_PROTOCOL: {
    standard: "probot",
    shownDefault: "https",
    description: "Protocol for GHE_HOST.",
    schema: z.enum(["http", "https"]).default("https"),
  },
  PORT: {
    standard: "probot",
    shownDefault: "3000",
    description: "HTTP port the App listens on.",
    schema: z.coerce.number().int().min(0).max(65535).default(3000),
  },
  HOST: {
    standard: "probot",
    shownDefault: "0.0.0.0",
    description:
      "Interface to listen on (default: all IPv4 interfaces; `::` for IPv6 too). Probot alone would listen on localhost only, out of reach in a container.",
    schema: z.string().min(1).default("0.0.0.0"),
  },
  LOG_LEVEL: {
    standard: "probot",
    shownDefault: "info",
    description: "trace, debug, info, warn, error, fatal or silent.",
    schema: z.enum(["trace", "debug", "info", "warn", "error", "fatal", "silent"]).default("info"),
  },
  WEBHOOK_PATH: {
    standard: "probot",
    shownDefault: "/api/github/webhooks",
    description: "Path that receives webhooks.",
    schema: z.string().startsWith("/").default("/api/github/webhooks"),
  },
  WEBHOOK_PROXY_URL: {
    standard: "probot",
    description: "A smee.io channel that forwards webhooks to a local App (development).",
    schema: z.url().optional(),
  },
  REDIS_URL: {
    standard: "probot",
    secret: true,
    description:
      "A Redis shared by several replicas of the App (`redis://[:password@]host:6379[/db]`, `rediss://` for TLS): one GitHub budget per installation, job claims, exact caps, once-per-fleet work (see docs/scaling.md). Unset: one process, nothing shared.",
    schema: z
      .string()
      .regex(/^rediss?:\/\/\S+$/, "a redis:// or rediss:// URL")
      .optional(),
  },

  MODAL_TOKEN_ID: {
    standard: "modal",
    description: "Modal token id (or a profile in ~/.modal.toml / MODAL_CONFIG_PATH).",
    schema: z.string().optional(),
  },
  MODAL_TOKEN_SECRET: { standard: "modal", secret: true, description: "Modal token secret.", schema: z.string().optional() },
  MODAL_ENVIRONMENT: {
    standard: "modal",
    description: "Modal environment to run sandboxes in (default: the workspace's default).",
    schema: z.string().optional(),
  },
  MODAL_SERVER_URL: {
    standard: "modal",
    description: "Modal control-plane URL (default https://api.modal.com:443).",
    schema: z.url().optional(),
  },
  MODAL_CONFIG_PATH: {
    standard: "modal",
    description: "Path of a Modal config file with profiles (default ~/.modal.toml).",
    schema: z.string().optional(),
  },

  RUNNER_LABEL: {
    shownDefault: "modal",
    description: "A job is served only if its `runs-on` labels include this one.",
    schema: z
      .string()
      .regex(/^[^\s,]+$/, "one label, no spaces or commas")
      .default("modal"),
  },
  RUNNER_NAME_PREFIX: {
    shownDefault: "modal",
    description: "Runner (and sandbox) names are `<prefix>-<job id>-<attempt>`; how the App recognises its own runners.",
    schema: modalName.max(40).default("modal"),
  },
  RUNNER_SCOPE: {
    shownDefault: "auto",
    description:
      "`org`: register runners at org level; `repo`: at repository level; `auto`: org level for org installations that granted it, else repository level.",
    schema: z.enum(["auto", "org", "repo"]).default("auto"),
  },
  RUNNER_GROUP: {
    shownDefault: "Default",
    description: "Runner group for org-level runners, by name or numeric id.",
    schema: z.string().min(1).default("Default"),
  },
  RUNNER_WORK_FOLDER: {
    shownDefault: "_work",
    description: "The runner's work folder (`work_folder` of the JIT config).",
    schema: z.string().min(1).default("_work"),
  },
  RUNNER_DOCKERFILE: {
    shownDefault: "docker/runner/Dockerfile",
    description: "Dockerfile of the default runner image: its `FROM` image plus the lines after it, built once on Modal.",
    schema: z.string().min(1).default("docker/runner/Dockerfile"),
  },
  RUNNER_VERSION: {
    shownDefault: "pinned",
    description:
      "`pinned`: runner images hold the runner version written in docker/runner/versions.env. `latest`: at start the App reads GitHub's newest runner release and installs it into the runner images, checked against its published SHA-256, so no runner updates itself when a job starts.",
    schema: z.enum(["pinned", "latest"]).default("pinned"),
  },
  RUNNER_CONFIG: {
    description:
      "Path of the runner configuration (YAML): runner profiles (labels, image, CPU, memory, GPU, lifetime, region, env, secrets, egress) and concurrency caps. Without it one default profile serves RUNNER_LABEL with the SANDBOX_* settings.",
    schema: z.string().min(1).optional(),
  },
  MODAL_APP_NAME: {
    shownDefault: "github-actions-runners",
    description: "Modal app that holds the sandboxes (created if missing).",
    schema: modalName.default("github-actions-runners"),
  },
  MODAL_CALL_ATTEMPTS: {
    shownDefault: "5",
    description:
      "How many times a Modal call that fails transiently (unreachable, UNAVAILABLE) is tried, with backoff, before the job waits for Modal. Each try already includes the Modal SDK's own retries (about 3.5 s when the control plane cannot be reached).",
    schema: positiveInteger().max(20).default(5),
  },
  SANDBOX_CPU: { shownDefault: "2", description: "CPU cores reserved per sandbox (default profile).", schema: positiveNumber().default(2) },
  SANDBOX_MEMORY_MIB: {
    shownDefault: "4096",
    description: "Memory per sandbox, MiB (default profile).",
    schema: positiveInteger().default(4096),
  },
  SANDBOX_TIMEOUT: {
    shownDefault: "6h",
    description:
      "Hard lifetime cap of a sandbox (`90s`, `45m`, `1h30m`, `6h`, `1d`; a bare number counts seconds); Modal ends it after this however busy it is.",
    schema: sandboxLifetime().default(6 * 3_600_000),
  },
  ALLOW_PUBLIC_REPOS: {
    shownDefault: "false",
    description:
      "Serve public repositories. Off by default: on a public repository anyone can open a pull request that runs code on your runner.",
    schema: bool().default(false),
  },
  ALLOWED_REPOSITORIES: {
    shownDefault: "(all)",
    description: "Only serve these: `owner` (all its repositories), `owner/repo`, `owner/prefix-*`. Comma-separated.",
    schema: repositoryPatterns().default([]),
  },
  DENIED_REPOSITORIES: {
    shownDefault: "(none)",
    description: "Never serve these (same forms); wins over ALLOWED_REPOSITORIES.",
    schema: repositoryPatterns().default([]),
  },
  CAP_TOTAL: {
    shownDefault: "512",
    description:
      "Sandboxes at once, all installations together, unless the runner config's `caps.total` says otherwise. Twice `CAP_PER_INSTALLATION`, so while one org runs flat out there is as much room again for the others; 512 default sandboxes cost about $195 an hour. Keep it at or below your Modal workspace's limit on concurrent containers: past it jobs wait here, in fair order, instead of failing at Modal.",
    schema: positiveInteger().default(512),
  },
  CAP_PER_INSTALLATION: {
    shownDefault: "256",
    description:
      "Sandboxes at once per installation (org or user), unless the runner config's `caps.perInstallation` says otherwise. 256 is GitHub's largest matrix (one workflow's jobs run at once) and more than one installation can register in a minute under GitHub's rate limits (about 150), so it never slows a burst; it keeps one org from taking the whole fleet.",
    schema: positiveInteger().default(256),
  },
  DISPATCH_CONCURRENCY: {
    shownDefault: "256",
    description:
      "Jobs whose runner is being set up at the same time, per replica. Their calls mostly wait on the network, and each installation's GitHub budget already paces them, so this is a memory bound, not a pace.",
    schema: positiveInteger().max(1024).default(256),
  },
  RECONCILE_INTERVAL: {
    shownDefault: "60s",
    description:
      "How often the reconciler compares GitHub with Modal and repairs the difference (`0` turns the timer off; POST /reconcile or `npm run reconcile` still work).",
    schema: z.union([z.literal("0").transform(() => 0), duration().pipe(z.number().min(1000, "at least 1s"))]).default(60_000),
  },
  FULL_SWEEP_INTERVAL: {
    shownDefault: "30m",
    description:
      "How often the reconciler looks for queued jobs in every repository of every installation (also at start-up); in between it looks only at repositories with recent Actions activity.",
    schema: duration()
      .pipe(z.number().min(60_000, "at least 60s"))
      .default(30 * 60_000),
  },
  RECONCILE_SECRET: {
    secret: true,
    description: "Bearer token for `POST /reconcile` (for cron or serverless deployments); the endpoint is off without it.",
    schema: z.string().min(16, "at least 16 characters").optional(),
  },
  IDLE_RUNNER_TIMEOUT: {
    shownDefault: "15m",
    description: "A runner that has not taken a job this long after its sandbox started is removed.",
    schema: duration().default(15 * 60_000),
  },
  FINISHED_GRACE: {
    shownDefault: "2m",
    description: "A sandbox still running this long after its job finished (or its registration went away) is terminated.",
    schema: duration().default(2 * 60_000),
  },
  SHUTDOWN_TIMEOUT: {
    shownDefault: "8s",
    description:
      "On SIGTERM or SIGINT, how long `npm start` lets in-flight dispatches finish before it exits (the reconciler finishes what this cuts short). Keep it under the platform's stop grace period: Docker's is 10 s, Kubernetes' 30 s.",
    schema: duration().default(8_000),
  },
  UNSERVED_JOB_GRACE: {
    shownDefault: "60s",
    description:
      "A queued job with no runner for this long is served by the reconciler (lost webhook, failed dispatch, runner taken by another job).",
    schema: duration().default(60_000),
  },
  ACTIVE_REPOSITORY_WINDOW: {
    shownDefault: "2h",
    description:
      "Repositories with a workflow_job event this recent are swept for queued jobs between full sweeps: every reconcile pass while they are busy, then less often the longer they stay quiet (every quarter of their quiet time, at most 8 intervals apart). Repositories with sandboxes, waiting jobs or unresolved findings are swept every pass.",
    schema: duration().default(2 * 3_600_000),
  },
  STATUS_TOKEN: {
    secret: true,
    description: "Bearer token for the status page (`GET /status`); the page is not served without it.",
    schema: z.string().min(16, "at least 16 characters").optional(),
  },
  METRICS_PORT: {
    description: "Serve `/metrics` on this port only (not on `PORT`); without it `/metrics` is served on `PORT`.",
    schema: z.coerce.number().int().min(1).max(65535).optional(),
  },
  REGISTRATION_GRACE: {
    shownDefault: "3m",
    description:
      "How long a runner registration without a sandbox is presumed to be another replica's attempt in progress before it is replaced.",
    schema: duration().default(180_000),
  },
} satisfies Record<string, SettingDefinition>;

export type SettingName = keyof typeof SETTINGS;

/**
 * Settings only the server reads (listening, webhooks, its own endpoints). The
 * one-shot commands (`npm run reconcile`, `npm run doctor`) neither require them nor
 * complain that they are missing; a value that is set is still checked.
 */
export const SERVER_ONLY: ReadonlySet<SettingName> = new Set<SettingName>([
  "WEBHOOK_SECRET",
  "PORT",
  "HOST",
  "WEBHOOK_PATH",
  "WEBHOOK_PROXY_URL",
  "RECONCILE_INTERVAL",
  "RECONCILE_SECRET",
  "SHUTDOWN_TIMEOUT",
  "STATUS_TOKEN",
  "METRICS_PORT",
]);

/** Which commands read a setting, as the README's settings table shows it. */
export function readBy(name: SettingName): string {
  return SERVER_ONLY.has(name) ? "server" : "all";
}

/**
 * Prefixes that mark a variable as meant for this App (RUNNER_, SANDBOX_, …), taken
 * from the App's own settings. MODAL_ is left out: the Modal SDK reads more
 * variables with that prefix than we list.
 */
export const APP_PREFIXES: readonly string[] = [
  ...new Set(
    (Object.entries(SETTINGS) as [SettingName, SettingDefinition][])
      .filter(([name, definition]) => !definition.standard && name.includes("_") && !name.startsWith("MODAL_"))
      .map(([name]) => `${name.split("_")[0]}_`),
  ),
];

/**
 * Kubernetes' service links: for a Service named "runner" or "metrics" in the same
 * namespace every pod gets RUNNER_SERVICE_HOST, RUNNER_PORT_80_TCP_ADDR and so on.
 */
export const FOREIGN_PATTERN = /_SERVICE_HOST$|_SERVICE_PORT(_[A-Z0-9_]+)?$|_PORT(_\d+_(TCP|UDP|SCTP)(_(PROTO|PORT|ADDR))?)?$/;

/** Variables with one of our prefixes that other software sets (the Actions runner's own RUNNER_* variables). */
export const FOREIGN_VARIABLES: ReadonlySet<string> = new Set([
  "RUNNER_OS",
  "RUNNER_ARCH",
  "RUNNER_NAME",
  "RUNNER_TEMP",
  "RUNNER_TOOL_CACHE",
  "RUNNER_DEBUG",
  "RUNNER_ENVIRONMENT",
  "RUNNER_WORKSPACE",
  "RUNNER_TRACKING_ID",
  "RUNNER_PERFLOG",
  "RUNNER_ALLOW_RUNASROOT",
  "RUNNER_HOME",
]);
