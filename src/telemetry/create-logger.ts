// The one logger of the process (Probot and its Octokit log through children of it).
// Secrets must never reach a log line, so two layers guard the output:
// 1. pino redaction of the fields where secrets live (headers, tokens, configs);
// 2. a last scrub of every written line for secret values and secret shapes, for
//    the case a secret hides in a message or an error nobody thought of.
import pino, { type DestinationStream, type Logger } from "pino";

const REDACTED = "[REDACTED]";

const REDACT_PATHS = [
  "req.headers.authorization",
  "req.headers.cookie",
  'req.headers["x-hub-signature"]',
  'req.headers["x-hub-signature-256"]',
  "headers.authorization",
  "request.headers.authorization",
  "*.headers.authorization",
  "token",
  "*.token",
  "encoded_jit_config",
  "*.encoded_jit_config",
  "jitConfig",
  "*.jitConfig",
  "env",
  "*.env",
  "privateKey",
  "*.privateKey",
  "secret",
  "*.secret",
];

/** Shapes of secrets whose values the process does not know in advance. */
const SECRET_SHAPES: RegExp[] = [
  /-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]*?-----END [A-Z ]*PRIVATE KEY-----/g, // PEM keys
  /\bgh[pousr]_[A-Za-z0-9]{20,}\b/g, // GitHub tokens (installation tokens are ghs_)
  /\bey[IJ][A-Za-z0-9+/_=-]{30,}/g, // base64 JSON objects: JIT configs (eyIucnVubmVy…), JWTs
  /\bas-[A-Za-z0-9]{16,}\b/g, // Modal token secrets
];

/** Scrubs known secret values (as they appear inside JSON strings) and secret shapes. */
export function createScrubber(secretValues: Iterable<string | undefined>) {
  const literals = [...secretValues]
    .filter((value): value is string => typeof value === "string" && value.length >= 8)
    .flatMap((value) => [value, JSON.stringify(value).slice(1, -1)]);
  return (line: string): string => {
    let out = line;
    for (const literal of literals) out = out.split(literal).join(REDACTED);
    for (const shape of SECRET_SHAPES) out = out.replace(shape, REDACTED);
    return out;
  };
}

export interface LoggerOptions {
  level: string;
  /** Values that must never be printed (private key, webhook secret, Modal token secret…). */
  secrets: Iterable<string | undefined>;
  /** Where lines go; stdout by default. Tests pass a capture stream. */
  destination?: DestinationStream;
}

export function createLogger(options: LoggerOptions): Logger {
  const scrub = createScrubber(options.secrets);
  return withComponentField(
    pino(
      {
        base: { app: "modal-github-runner" },
        level: options.level,
        redact: { paths: REDACT_PATHS, censor: REDACTED },
        hooks: { streamWrite: scrub },
      },
      options.destination ?? pino.destination(1),
    ),
  );
}

/**
 * Every line names the part that wrote it in one field, `component`. Probot and
 * its Octokit name their child loggers with `name` ("probot", "server", "event"):
 * those bindings are renamed, so no line carries `name` twice over.
 */
function withComponentField(logger: Logger): Logger {
  return new Proxy(logger, {
    get(target, property, receiver) {
      if (property !== "child") return Reflect.get(target, property, receiver);
      return (bindings: Record<string, unknown>, childOptions?: object) => {
        const { name, ...rest } = bindings;
        const renamed = name === undefined || "component" in rest ? rest : { ...rest, component: name };
        return withComponentField(target.child(renamed, childOptions));
      };
    },
  });
}
