// What a route file needs from the fake GitHub to add its routes: the fake's public
// identity and a way to register a handler (checked against GitHub's OpenAPI like
// every other route). Route files keep their own state, keyed by the fake.
export interface RouteContext {
  params: Record<string, string>;
  query: Record<string, string>;
  body: unknown;
}

export interface RouteHandler {
  /** "none": GitHub serves the route without authentication (e.g. manifest conversions). */
  auth: "app" | "installation" | "none";
  fn: (ctx: RouteContext) => { status: number; body?: unknown; headers?: Record<string, string> };
}

export interface RouteHost {
  readonly appId: number;
  readonly appSlug: string;
  readonly privateKey: string;
  readonly webhookSecret: string;
  readonly webhookUrl: string | undefined;
  readonly baseUrl: string;
  readonly host: string;
}

export type Register = (method: string, template: string, handler: RouteHandler) => void;
