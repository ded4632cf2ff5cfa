// Finds the route for a request path among URL templates ("/repos/{owner}/{repo}"):
// of the templates that match, the one with the most literal segments, so
// ".../runners/generate-jitconfig" beats ".../runners/{runner_id}". The fake routes
// with it when no OpenAPI description is loaded (the demo); the OpenAPI check
// matches the same way over every template GitHub documents.

export interface CompiledTemplate {
  template: string;
  segments: string[];
  literalCount: number;
  /** "/repos/{owner}/{repo}/contents/{path}": the file path may hold slashes */
  greedyLast: boolean;
}

export function compileTemplate(template: string): CompiledTemplate {
  const segments = template.split("/").slice(1);
  const last = segments[segments.length - 1] ?? "";
  return { template, segments, literalCount: segments.filter((s) => !s.startsWith("{")).length, greedyLast: last === "{path}" };
}

/** The URL-decoded path parameters when `parts` (a raw path split at "/") fits the template. */
export function matchTemplate(route: CompiledTemplate, parts: string[]): Record<string, string> | undefined {
  const { segments } = route;
  if (route.greedyLast ? parts.length < segments.length : parts.length !== segments.length) return undefined;
  const params: Record<string, string> = {};
  for (let i = 0; i < segments.length; i++) {
    const seg = segments[i] as string;
    const isLast = i === segments.length - 1;
    const raw = isLast && route.greedyLast ? parts.slice(i).join("/") : (parts[i] as string);
    if (seg.startsWith("{")) {
      if (raw === "") return undefined;
      let value: string;
      try {
        value = decodeURIComponent(raw);
      } catch {
        return undefined;
      }
      params[seg.slice(1, -1)] = value;
    } else if (seg !== raw) {
      return undefined;
    }
  }
  return params;
}

export class RouteTable {
  private readonly routes = new Map<string, { compiled: CompiledTemplate; methods: Set<string> }>();

  add(method: string, template: string): void {
    let route = this.routes.get(template);
    if (!route) this.routes.set(template, (route = { compiled: compileTemplate(template), methods: new Set() }));
    route.methods.add(method);
  }

  /** The best template for a raw (still percent-encoded) path without the /api/v3 prefix; one with the method wins. */
  match(method: string, rawPath: string): { template: string; params: Record<string, string> } | undefined {
    const parts = rawPath.split("/").slice(1);
    let best: { compiled: CompiledTemplate; params: Record<string, string>; hasMethod: boolean } | undefined;
    for (const { compiled, methods } of this.routes.values()) {
      const params = matchTemplate(compiled, parts);
      if (!params) continue;
      const hasMethod = methods.has(method);
      if (!best || (hasMethod && !best.hasMethod) || (hasMethod === best.hasMethod && compiled.literalCount > best.compiled.literalCount)) {
        best = { compiled, params, hasMethod };
      }
    }
    return best && { template: best.compiled.template, params: best.params };
  }
}
