// GitHub's OpenAPI description, reduced to the routes the fake serves, and the
// checks the fake runs against it (requests, its own responses, webhook payloads).
//
// The full description (@octokit/openapi, api.github.com.deref.json) is 73 MB; the
// first process that needs it extracts the subset into
// node_modules/.cache/fake-github/openapi-subset-<version>.json (temp file + rename, so
// concurrent Jest workers never read a half-written file) and every later load reads
// that (~1 MB) file instead.
//
// Compiling a validator (Ajv's code generation) costs more than the request it checks,
// and every Jest test file compiles the same few dozen again: each compiled validator
// is kept as Ajv's standalone code in validators/<hash of its schema>.cjs beside the
// subset, so later test files only load it.
//
// Only tests load this file (FakeGitHub.start imports it when `checkOpenApi` is on):
// ajv and @octokit/openapi are devDependencies, and the demo runs without them.
import { createHash } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { createRequire } from "node:module";
import type AjvModule from "ajv";
import type { ErrorObject, ValidateFunction } from "ajv";
import type StandaloneModule from "ajv/dist/standalone/index.js";
import type AddFormatsModule from "ajv-formats";
import { fixtureCacheDir, writeCacheFile } from "./fixture-cache.js";
import { compileTemplate, matchTemplate, type CompiledTemplate } from "./route-table.js";

/** Bump when the extraction below changes, so stale cache files are rebuilt. */
const SUBSET_FORMAT = 4;

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
type Schema = { [key: string]: Json };

export interface ApiParameter {
  name: string;
  in: "path" | "query" | "header" | "cookie";
  required?: boolean;
  schema?: Schema;
}

export interface ApiOperation {
  operationId: string;
  parameters: ApiParameter[];
  requestBody?: { required: boolean; schema: Schema | null };
  /** status code → JSON schema of the body (null when the status has no JSON body) */
  responses: Record<string, Schema | null>;
}

interface Subset {
  format: number;
  version: string;
  paths: Record<string, Record<string, ApiOperation>>;
  webhooks: Record<string, Schema>;
}

export interface RouteMatch {
  template: string;
  /** undefined when the path exists in the description but not with this method */
  operation: ApiOperation | undefined;
  /** path parameters, URL-decoded */
  params: Record<string, string>;
}

const require = createRequire(import.meta.url);

/** The subset keeps these paths (and the webhook schemas of workflow_job). */
export function isServedPrefix(p: string): boolean {
  return (
    p === "/app" ||
    p.startsWith("/app/") ||
    p.startsWith("/app-manifests/") ||
    p.startsWith("/installation/") ||
    // where is the App installed (App JWT)
    p === "/orgs/{org}/installation" ||
    p === "/repos/{owner}/{repo}/installation" ||
    p === "/users/{username}/installation" ||
    p === "/repos/{owner}/{repo}" ||
    // the runner releases the App compares its image with
    p === "/repos/{owner}/{repo}/releases/latest" ||
    p.startsWith("/repos/{owner}/{repo}/actions/") ||
    p.startsWith("/repos/{owner}/{repo}/contents/") ||
    p.startsWith("/orgs/{org}/actions/")
  );
}

const DROPPED_SCHEMA_KEYS = new Set(["description", "example", "examples", "externalDocs", "title", "deprecated", "readOnly", "writeOnly"]);
const SCHEMA_MAP_KEYS = new Set(["properties", "patternProperties"]);
const SCHEMA_KEYS = new Set(["items", "additionalProperties", "not"]);
const SCHEMA_LIST_KEYS = new Set(["allOf", "anyOf", "oneOf"]);

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** Drops documentation keys from a schema, keeping property maps intact. */
function cleanSchema(schema: unknown): Json {
  if (!isObject(schema)) return schema as Json;
  const out: Schema = {};
  for (const [key, value] of Object.entries(schema)) {
    if (DROPPED_SCHEMA_KEYS.has(key) || key.startsWith("x-")) continue;
    if (SCHEMA_MAP_KEYS.has(key) && isObject(value)) {
      const props: Schema = {};
      for (const [name, sub] of Object.entries(value)) props[name] = cleanSchema(sub);
      out[key] = props;
    } else if (SCHEMA_KEYS.has(key)) {
      out[key] = cleanSchema(value);
    } else if (SCHEMA_LIST_KEYS.has(key) && Array.isArray(value)) {
      out[key] = value.map(cleanSchema);
    } else {
      out[key] = value as Json;
    }
  }
  return out;
}

function jsonSchemaOf(content: unknown): Schema | null {
  if (!isObject(content)) return null;
  const key = "application/json" in content ? "application/json" : Object.keys(content).find((k) => k.includes("json"));
  if (!key) return null;
  const media = content[key];
  if (!isObject(media) || !isObject(media.schema)) return null;
  return cleanSchema(media.schema) as Schema;
}

function extractOperation(op: Record<string, unknown>): ApiOperation {
  const parameters: ApiParameter[] = [];
  for (const p of (op.parameters as unknown[]) ?? []) {
    if (!isObject(p)) continue;
    const param: ApiParameter = { name: String(p.name), in: p.in as ApiParameter["in"] };
    if (p.required === true) param.required = true;
    if (isObject(p.schema)) param.schema = cleanSchema(p.schema) as Schema;
    parameters.push(param);
  }
  const responses: Record<string, Schema | null> = {};
  for (const [status, response] of Object.entries((op.responses as Record<string, unknown>) ?? {})) {
    responses[status] = isObject(response) ? jsonSchemaOf(response.content) : null;
  }
  const result: ApiOperation = { operationId: String(op.operationId ?? ""), parameters, responses };
  if (isObject(op.requestBody)) {
    result.requestBody = { required: op.requestBody.required === true, schema: jsonSchemaOf(op.requestBody.content) };
  }
  return result;
}

function packageVersion(): string {
  const pkgPath = require.resolve("@octokit/openapi/package.json");
  return String((JSON.parse(fs.readFileSync(pkgPath, "utf8")) as { version: unknown }).version);
}

const cacheDir = () => fixtureCacheDir("@octokit/openapi/package.json");

function extractSubset(version: string): Subset {
  const fullPath = path.join(path.dirname(require.resolve("@octokit/openapi/package.json")), "generated", "api.github.com.deref.json");
  const full = JSON.parse(fs.readFileSync(fullPath, "utf8")) as {
    paths: Record<string, Record<string, unknown>>;
    "x-webhooks"?: Record<string, Record<string, unknown>>;
  };
  const paths: Subset["paths"] = {};
  for (const [template, item] of Object.entries(full.paths)) {
    if (!isServedPrefix(template)) continue;
    const ops: Record<string, ApiOperation> = {};
    for (const method of ["get", "post", "put", "patch", "delete"]) {
      const op = item[method];
      if (isObject(op)) ops[method.toUpperCase()] = extractOperation(op);
    }
    paths[template] = ops;
  }
  const webhooks: Subset["webhooks"] = {};
  for (const [name, item] of Object.entries(full["x-webhooks"] ?? {})) {
    if (!name.startsWith("workflow-job-")) continue;
    const post = item.post;
    if (isObject(post) && isObject(post.requestBody)) {
      const schema = jsonSchemaOf(post.requestBody.content);
      if (schema) webhooks[name] = schema;
    }
  }
  return { format: SUBSET_FORMAT, version, paths, webhooks };
}

let cachedSubset: Subset | undefined;

/**
 * Places where GitHub's description contradicts GitHub's own answers; patched after
 * loading (the cache file stays a faithful extract).
 */
function patchKnownSpecBugs(subset: Subset): Subset {
  // GET /app/installations: `account` is allOf [simple-user, enterprise] (every account
  // would have to be both); GET /app/installations/{installation_id} says anyOf.
  const list = subset.paths["/app/installations"]?.GET?.responses["200"];
  const items = list?.items;
  if (isObject(items) && isObject(items.properties)) {
    const account = items.properties.account;
    if (isObject(account) && Array.isArray(account.allOf)) {
      const { allOf, ...rest } = account;
      items.properties.account = { ...rest, anyOf: allOf };
    }
  }
  return subset;
}

export function loadSubset(): Subset {
  if (cachedSubset) return cachedSubset;
  cachedSubset = patchKnownSpecBugs(loadSubsetFile());
  return cachedSubset;
}

function loadSubsetFile(): Subset {
  const version = packageVersion();
  const dir = cacheDir();
  const file = path.join(dir, `openapi-subset-${version}.json`);
  try {
    const parsed = JSON.parse(fs.readFileSync(file, "utf8")) as Subset;
    if (parsed.format === SUBSET_FORMAT && parsed.version === version) return parsed;
  } catch {
    // missing or unreadable: rebuild below
  }
  const subset = extractSubset(version);
  writeCacheFile(file, JSON.stringify(subset));
  return subset;
}

/**
 * OpenAPI 3.0 → JSON Schema for Ajv: `nullable: true` becomes a "null" type (or an
 * anyOf with {type: "null"} when the schema has no type), and an enum of a nullable
 * schema gains null.
 */
function toJsonSchema(schema: Json): Json {
  if (Array.isArray(schema)) return schema.map(toJsonSchema);
  if (!isObject(schema)) return schema;
  const out: Schema = {};
  for (const [key, value] of Object.entries(schema)) {
    if (key === "nullable") continue;
    if (SCHEMA_MAP_KEYS.has(key) && isObject(value)) {
      const props: Schema = {};
      for (const [name, sub] of Object.entries(value)) props[name] = toJsonSchema(sub);
      out[key] = props;
    } else if (SCHEMA_KEYS.has(key) || SCHEMA_LIST_KEYS.has(key)) {
      out[key] = toJsonSchema(value);
    } else {
      out[key] = value;
    }
  }
  if (schema.nullable === true) {
    if (typeof out.type === "string") {
      out.type = [out.type, "null"];
      if (Array.isArray(out.enum) && !out.enum.includes(null)) out.enum = [...out.enum, null];
    } else if (out.type === undefined) {
      return { anyOf: [{ type: "null" }, out] };
    }
  }
  return out;
}

// Two Ajv instances: bodies are validated as JSON (with formats); query and path
// parameters arrive as strings, so they are coerced and their formats are not checked
// (GitHub's `created` is documented as date-time but takes ranges like ">=2024-01-01").
// `code.source` keeps each validator's code for the cache (see compileCached).
const JSON_OPTIONS = { strict: false, allErrors: true, logger: false, code: { source: true } } as const;
const PARAMS_OPTIONS = { ...JSON_OPTIONS, coerceTypes: "array", validateFormats: false } as const;
type Flavour = "json" | "params";
type Ajv = InstanceType<typeof AjvModule.default>;

// Ajv's compiler (about 60 modules) is loaded only when a validator is missing from the
// cache: most test files find every validator they use there, and the cached code needs
// only Ajv's small runtime helpers.
let compilers: { json: Ajv; params: Ajv; standaloneCode: typeof StandaloneModule.default } | undefined;
function compiler(): NonNullable<typeof compilers> {
  if (!compilers) {
    const Ajv = (require("ajv") as typeof AjvModule).default;
    const addFormats = (require("ajv-formats") as typeof AddFormatsModule).default;
    const json = new Ajv(JSON_OPTIONS);
    addFormats(json);
    const standaloneCode = (require("ajv/dist/standalone/index.js") as typeof StandaloneModule).default;
    compilers = { json, params: new Ajv(PARAMS_OPTIONS), standaloneCode };
  }
  return compilers;
}

const AJV_VERSION = String((require("ajv/package.json") as { version: unknown }).version);

/**
 * A validator for the schema: loaded from the cache of compiled validators, else
 * compiled and written there (temp file + rename: concurrent Jest workers never read
 * half a file). The key covers the schema and the Ajv options it was compiled with.
 */
function compileCached(schema: object, flavour: Flavour): ValidateFunction {
  const hash = createHash("sha256")
    .update(
      `${SUBSET_FORMAT} ajv@${AJV_VERSION} ${JSON.stringify(flavour === "json" ? JSON_OPTIONS : PARAMS_OPTIONS)} ${JSON.stringify(schema)}`,
    )
    .digest("hex")
    .slice(0, 32);
  const file = path.join(cacheDir(), "validators", `${hash}.cjs`);
  try {
    return loadValidator(fs.readFileSync(file, "utf8"));
  } catch {
    // missing or unreadable: compile below
  }
  const { standaloneCode, [flavour]: ajv } = compiler();
  const validate = ajv.compile(schema);
  writeCacheFile(file, standaloneCode(ajv, validate));
  return validate;
}

/** Evaluates a standalone validator (CommonJS that requires Ajv's runtime helpers and ajv-formats). */
function loadValidator(code: string): ValidateFunction {
  const module = { exports: {} as { default?: ValidateFunction } };
  new Function("module", "exports", "require", code)(module, module.exports, require);
  if (typeof module.exports.default !== "function") throw new Error("not a compiled validator");
  return module.exports.default;
}

function formatErrors(where: string, errors: ErrorObject[] | null | undefined, limit = 8): string[] {
  const out: string[] = [];
  for (const e of errors ?? []) {
    const at = `${where}${e.instancePath}`;
    if (e.keyword === "additionalProperties") {
      out.push(
        `${at}/${String((e.params as { additionalProperty?: unknown }).additionalProperty)} is not a known ${where === "query" ? "parameter" : "property"}`,
      );
    } else if (e.keyword === "enum") {
      out.push(`${at} must be one of ${JSON.stringify((e.params as { allowedValues?: unknown }).allowedValues)}`);
    } else {
      out.push(`${at} ${e.message ?? e.keyword}`);
    }
    if (out.length >= limit) break;
  }
  return [...new Set(out)];
}

interface CompiledRoute extends CompiledTemplate {
  operations: Record<string, ApiOperation>;
}

export class OpenApi {
  private readonly routes: CompiledRoute[];
  private readonly webhooks: Record<string, Schema>;
  private readonly validators = new Map<string, ValidateFunction | null>();

  constructor(subset: Subset = loadSubset()) {
    this.webhooks = subset.webhooks;
    this.routes = Object.entries(subset.paths).map(([template, operations]) => ({ ...compileTemplate(template), operations }));
  }

  get templates(): string[] {
    return this.routes.map((r) => r.template);
  }

  /** Finds the operation for a raw (still percent-encoded) path without the /api/v3 prefix. */
  match(method: string, rawPath: string): RouteMatch | undefined {
    const parts = rawPath.split("/").slice(1);
    let best: { route: CompiledRoute; params: Record<string, string>; hasMethod: boolean } | undefined;
    for (const route of this.routes) {
      const params = matchTemplate(route, parts);
      if (!params) continue;
      const hasMethod = method in route.operations;
      if (!best || (hasMethod && !best.hasMethod) || (hasMethod === best.hasMethod && route.literalCount > best.route.literalCount)) {
        best = { route, params, hasMethod };
      }
    }
    if (!best) return undefined;
    return { template: best.route.template, operation: best.route.operations[method], params: best.params };
  }

  private validator(key: string, schema: Schema | null | undefined, flavour: Flavour): ValidateFunction | null {
    if (this.validators.has(key)) return this.validators.get(key) ?? null;
    let fn: ValidateFunction | null = null;
    if (schema) fn = compileCached(toJsonSchema(schema) as object, flavour);
    this.validators.set(key, fn);
    return fn;
  }

  /** Checks path parameters, query parameters and the JSON body; returns human-readable problems. */
  checkRequest(method: string, match: RouteMatch, query: Record<string, string>, body: unknown, hasBody: boolean): string[] {
    const op = match.operation;
    if (!op) return [];
    const problems: string[] = [];
    const key = `${method} ${match.template}`;
    for (const where of ["path", "query"] as const) {
      const params = op.parameters.filter((p) => p.in === where);
      const schema: Schema = {
        type: "object",
        properties: Object.fromEntries(params.map((p) => [p.name, p.schema ?? {}])),
        required: params.filter((p) => p.required).map((p) => p.name),
        additionalProperties: where === "query" ? false : true,
      };
      const validate = this.validator(`${key} ${where}`, schema, "params");
      const data = where === "path" ? { ...match.params } : { ...query };
      if (validate && !validate(data)) problems.push(...formatErrors(where, validate.errors));
    }
    if (op.requestBody) {
      if (!hasBody) {
        if (op.requestBody.required) problems.push("body is required");
      } else {
        const validate = this.validator(`${key} body`, op.requestBody.schema, "json");
        if (validate && !validate(body)) problems.push(...formatErrors("body", validate.errors));
      }
    } else if (hasBody && method !== "GET" && method !== "DELETE") {
      problems.push("body is not accepted by this operation");
    }
    return problems;
  }

  /**
   * Checks one of the fake's own JSON responses. A documented status without a JSON
   * schema (204, 304) passes; an undocumented success status is a problem.
   */
  checkResponse(method: string, match: RouteMatch, status: number, body: unknown): string[] {
    const op = match.operation;
    if (!op) return [];
    const code = String(status);
    if (!(code in op.responses)) {
      return status < 300 ? [`response status ${status} is not documented`] : [];
    }
    const schema = op.responses[code];
    if (!schema || body === undefined) return [];
    const validate = this.validator(`${method} ${match.template} response ${code}`, schema, "json");
    if (validate && !validate(body)) return formatErrors(`response ${status}`, validate.errors);
    return [];
  }

  /** Checks a workflow_job webhook payload against GitHub's webhook schema for the action. */
  checkWebhook(event: string, action: string, payload: unknown): string[] {
    const name = `${event.replace(/_/g, "-")}-${action.replace(/_/g, "-")}`;
    const schema = this.webhooks[name];
    if (!schema) return [];
    const validate = this.validator(`webhook ${name}`, schema, "json");
    if (validate && !validate(payload)) return formatErrors("payload", validate.errors);
    return [];
  }
}

let sharedApi: OpenApi | undefined;
/** One compiled description per module instance (i.e. per Jest test file). */
export function openApi(): OpenApi {
  sharedApi ??= new OpenApi();
  return sharedApi;
}
