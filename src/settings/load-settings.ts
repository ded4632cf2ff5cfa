// Reads and checks every setting once, at start-up. A problem stops the App with a
// message that names the variable and says how to fix it; secrets are never echoed.
import { createPrivateKey } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { getPrivateKey } from "@probot/get-private-key";
import { ConfigError, type ConfigProblem } from "../runner-config/config-error.js";
import { defaultRunnerConfig, loadRunnerConfig } from "../runner-config/load-runner-config.js";
import type { RunnerConfig } from "../model/runner-profile.js";
import { parseDockerfile } from "../runner-config/parse-dockerfile.js";
import { type RunnerImageDefinition } from "../model/runner-profile.js";
import { runnerBuildArgs } from "../runner-config/runner-build-args.js";
import { describeFileFailure } from "../lib/read-text-file.js";
import { describeFailure } from "../lib/errors.js";
import { closestName } from "./closest-name.js";
import {
  APP_PREFIXES,
  type Command,
  FOREIGN_PATTERN,
  FOREIGN_VARIABLES,
  SERVER_ONLY,
  SETTINGS,
  type SettingName,
} from "./settings-schema.js";

export { ConfigError } from "../runner-config/config-error.js";
/** The name main.ts and the CLIs catch; settings and runner-config mistakes share one class. */
export { ConfigError as SettingsError } from "../runner-config/config-error.js";

type Env = Record<string, string | undefined>;
type Values = { [K in SettingName]: unknown };

export interface Settings {
  github: {
    appId: number;
    privateKey: string;
    /** Empty for the one-shot commands, which receive no webhooks. */
    webhookSecret: string;
    /** REST base URL: api.github.com, or GHE_PROTOCOL://GHE_HOST/api/v3. */
    baseUrl: string;
    webhookPath: string;
    webhookProxyUrl: string | undefined;
  };
  server: { port: number; host: string | undefined };
  observe: {
    /** Bearer token of the status page; the page is off without it. */
    statusToken: string | undefined;
    /** When set, /metrics is served only on this port. */
    metricsPort: number | undefined;
  };
  logLevel: string;
  modal: {
    appName: string;
    environment: string | undefined;
    /** Tries of a transiently failing Modal call before the job waits (MODAL_CALL_ATTEMPTS). */
    callAttempts: number;
  };
  runner: {
    label: string;
    namePrefix: string;
    scope: "auto" | "org" | "repo";
    /** Runner group by numeric id, or by name (resolved per org). */
    group: number | string;
    workFolder: string;
    /** Runner profiles and caps (RUNNER_CONFIG, or one default profile). */
    config: RunnerConfig;
    /** The runner version of docker/runner/versions.env, and whether images get the newest release instead (RUNNER_VERSION). */
    version: { pinned: string; wanted: "pinned" | "latest" };
  };
  policy: { allowPublicRepos: boolean; allowedRepositories: string[]; deniedRepositories: string[] };
  dispatch: { concurrency: number; registrationGraceMs: number };
  /** Shared state of a fleet of replicas; undefined: one process, nothing shared. */
  redisUrl: string | undefined;
  reconcile: {
    intervalMs: number;
    fullSweepIntervalMs: number;
    secret: string | undefined;
    idleRunnerTimeoutMs: number;
    finishedGraceMs: number;
    unservedJobGraceMs: number;
    activeRepositoryWindowMs: number;
  };
}

export interface LoadOptions {
  /** Which command is starting: each asks only for the settings it uses. Default "server". */
  command?: Command;
}

/** The value a variable has when it is set to something other than blank. */
function present(env: Env, name: string): string | undefined {
  const value = env[name];
  return value === undefined || value.trim() === "" ? undefined : value;
}

function validateEach(env: Env, command: Command, problems: ConfigProblem[]): Values {
  const values = {} as Values;
  for (const [name, definition] of Object.entries(SETTINGS) as [SettingName, (typeof SETTINGS)[SettingName]][]) {
    const raw = present(env, name);
    const result = definition.schema.safeParse(raw);
    if (!result.success && raw === undefined && command !== "server" && SERVER_ONLY.has(name)) {
      values[name] = undefined; // required by the server only
      continue;
    }
    if (result.success) {
      values[name] = result.data;
      continue;
    }
    const reason = result.error.issues.map((issue) => issue.message).join("; ");
    const shown = "secret" in definition || raw === undefined ? "" : ` (got "${raw}")`;
    problems.push(
      raw === undefined ? { key: name, message: `required: ${definition.description}` } : { key: name, message: `${reason}${shown}` },
    );
  }
  return values;
}

/** Variables with one of the App's prefixes that are no setting: almost always a typo. */
function checkUnknown(env: Env, problems: ConfigProblem[]): void {
  const names = Object.keys(SETTINGS);
  for (const variable of Object.keys(env).sort()) {
    if (
      variable in SETTINGS ||
      FOREIGN_VARIABLES.has(variable) ||
      FOREIGN_PATTERN.test(variable) ||
      !APP_PREFIXES.some((prefix) => variable.startsWith(prefix))
    )
      continue;
    const suggestion = closestName(variable, names);
    const hint = suggestion ? `did you mean ${suggestion}?` : "see the settings table in the README";
    problems.push({ key: variable, message: `not a setting of this App; ${hint}` });
  }
}

function readPrivateKey(env: Env, problems: ConfigProblem[]): string {
  let key: string | null = null;
  try {
    key = getPrivateKey({ env: { PRIVATE_KEY: present(env, "PRIVATE_KEY"), PRIVATE_KEY_PATH: present(env, "PRIVATE_KEY_PATH") } });
  } catch (error) {
    // The library's message names the file or says the key is malformed; never the key.
    problems.push({ key: "PRIVATE_KEY / PRIVATE_KEY_PATH", message: describeFailure(error).reason.split("\n")[0]! });
    return "";
  }
  if (!key) {
    problems.push({
      key: "PRIVATE_KEY or PRIVATE_KEY_PATH",
      message: "required: the App's private key, downloaded from its settings page on GitHub",
    });
    return "";
  }
  try {
    createPrivateKey(key);
  } catch {
    problems.push({
      key: "PRIVATE_KEY / PRIVATE_KEY_PATH",
      message: "not a valid PEM private key (download a new one from the App's settings page)",
    });
  }
  return key;
}

function checkModalCredentials(env: Env, problems: ConfigProblem[]): void {
  const id = present(env, "MODAL_TOKEN_ID");
  const secret = present(env, "MODAL_TOKEN_SECRET");
  if (id && secret) return;
  if (id || secret) {
    problems.push({
      key: id ? "MODAL_TOKEN_SECRET" : "MODAL_TOKEN_ID",
      message: `required when ${id ? "MODAL_TOKEN_ID" : "MODAL_TOKEN_SECRET"} is set (create a token with \`modal token new\`)`,
    });
    return;
  }
  const configPath = present(env, "MODAL_CONFIG_PATH") ?? path.join(os.homedir(), ".modal.toml");
  const config = existsSync(configPath) ? readFileSync(configPath, "utf8") : "";
  if (!/^\s*token_id\s*=/m.test(config)) {
    problems.push({
      key: "MODAL_TOKEN_ID and MODAL_TOKEN_SECRET",
      message: `required (or a profile with a token in ${configPath}); create a token with \`modal token new\``,
    });
  }
}

function readRunnerImage(file: string, buildArgs: Record<string, string>, problems: ConfigProblem[]): RunnerImageDefinition {
  try {
    return parseDockerfile(readFileSync(file, "utf8"), file, buildArgs);
  } catch (error) {
    problems.push({ key: "RUNNER_DOCKERFILE", message: describeFileFailure(error, file) });
    return { baseImage: "", commands: [] };
  }
}

function readRunnerConfig(
  v: Values,
  image: RunnerImageDefinition,
  buildArgs: Record<string, string>,
  cwd: string,
  problems: ConfigProblem[],
): RunnerConfig | undefined {
  // When one of these settings is itself wrong (already reported), the file is still
  // checked, with stand-in values, so one run shows every mistake.
  const defaults = {
    runnerLabel: (v.RUNNER_LABEL as string | undefined) ?? "modal",
    image,
    cpu: (v.SANDBOX_CPU as number | undefined) ?? 2,
    memoryMiB: (v.SANDBOX_MEMORY_MIB as number | undefined) ?? 4096,
    timeoutMs: (v.SANDBOX_TIMEOUT as number | undefined) ?? 6 * 3_600_000,
    buildArgs,
    caps: { total: (v.CAP_TOTAL as number | undefined) ?? 512, perInstallation: (v.CAP_PER_INSTALLATION as number | undefined) ?? 256 },
  };
  const file = v.RUNNER_CONFIG as string | undefined;
  if (!file) return defaultRunnerConfig(defaults);
  try {
    return loadRunnerConfig(path.resolve(cwd, file), defaults, cwd);
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    // The file and line are in each problem's source; the setting that named the file leads.
    problems.push(...error.problems.map((problem) => ({ ...problem, source: `RUNNER_CONFIG ${problem.source ?? file}` })));
    return undefined;
  }
}

/**
 * Checks the runner image and runner config alone (and the settings they use), for
 * `npm start`'s setup mode: before the App has credentials, a mistake in the file
 * is still reported at start-up, not only once the App is created.
 */
export function checkRunnerSettings(env: Env = process.env, cwd = process.cwd()): void {
  const problems: ConfigProblem[] = [];
  const v = validateEach(env, "reconcile", []);
  const buildArgs = runnerBuildArgs();
  const dockerfile = typeof v.RUNNER_DOCKERFILE === "string" ? path.resolve(cwd, v.RUNNER_DOCKERFILE) : "";
  const image = dockerfile ? readRunnerImage(dockerfile, buildArgs, problems) : { baseImage: "", commands: [] };
  readRunnerConfig(v, image, buildArgs, cwd, problems);
  if (problems.length > 0) throw new ConfigError(problems);
}

/** Reads and checks every setting `command` uses; throws ConfigError listing every problem. */
export function loadSettings(env: Env = process.env, cwd = process.cwd(), options: LoadOptions = {}): Settings {
  const command = options.command ?? "server";
  const problems: ConfigProblem[] = [];
  checkUnknown(env, problems);
  const v = validateEach(env, command, problems);
  const privateKey = readPrivateKey(env, problems);
  checkModalCredentials(env, problems);
  const buildArgs = runnerBuildArgs();
  const dockerfile = typeof v.RUNNER_DOCKERFILE === "string" ? path.resolve(cwd, v.RUNNER_DOCKERFILE) : "";
  const image = dockerfile ? readRunnerImage(dockerfile, buildArgs, problems) : { baseImage: "", commands: [] };
  // The runner config is checked whatever else is wrong, so one run shows every mistake.
  const config = readRunnerConfig(v, image, buildArgs, cwd, problems);
  if (problems.length > 0 || !config) throw new ConfigError(problems);

  const gheHost = v.GHE_HOST as string | undefined;
  const group = v.RUNNER_GROUP as string;
  return {
    github: {
      appId: v.APP_ID as number,
      privateKey,
      webhookSecret: (v.WEBHOOK_SECRET as string | undefined) ?? "",
      baseUrl: gheHost ? `${v.GHE_PROTOCOL as string}://${gheHost}/api/v3` : "https://api.github.com",
      webhookPath: v.WEBHOOK_PATH as string,
      webhookProxyUrl: v.WEBHOOK_PROXY_URL as string | undefined,
    },
    server: { port: v.PORT as number, host: v.HOST as string | undefined },
    observe: { statusToken: v.STATUS_TOKEN as string | undefined, metricsPort: v.METRICS_PORT as number | undefined },
    logLevel: v.LOG_LEVEL as string,
    modal: {
      appName: v.MODAL_APP_NAME as string,
      environment: v.MODAL_ENVIRONMENT as string | undefined,
      callAttempts: v.MODAL_CALL_ATTEMPTS as number,
    },
    runner: {
      label: v.RUNNER_LABEL as string,
      namePrefix: v.RUNNER_NAME_PREFIX as string,
      scope: v.RUNNER_SCOPE as Settings["runner"]["scope"],
      group: /^\d+$/.test(group) ? Number(group) : group,
      workFolder: v.RUNNER_WORK_FOLDER as string,
      config,
      version: { pinned: buildArgs.RUNNER_VERSION ?? "", wanted: v.RUNNER_VERSION as "pinned" | "latest" },
    },
    policy: {
      allowPublicRepos: v.ALLOW_PUBLIC_REPOS as boolean,
      allowedRepositories: v.ALLOWED_REPOSITORIES as string[],
      deniedRepositories: v.DENIED_REPOSITORIES as string[],
    },
    dispatch: { concurrency: v.DISPATCH_CONCURRENCY as number, registrationGraceMs: v.REGISTRATION_GRACE as number },
    redisUrl: v.REDIS_URL as string | undefined,
    reconcile: {
      intervalMs: v.RECONCILE_INTERVAL as number,
      fullSweepIntervalMs: v.FULL_SWEEP_INTERVAL as number,
      secret: v.RECONCILE_SECRET as string | undefined,
      idleRunnerTimeoutMs: v.IDLE_RUNNER_TIMEOUT as number,
      finishedGraceMs: v.FINISHED_GRACE as number,
      unservedJobGraceMs: v.UNSERVED_JOB_GRACE as number,
      activeRepositoryWindowMs: v.ACTIVE_REPOSITORY_WINDOW as number,
    },
  };
}
