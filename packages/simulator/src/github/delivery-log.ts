// The App's webhook delivery log as GitHub keeps it: every delivery the fake makes
// (first attempts and redeliveries) with its outcome, served by
//   GET  /app/hook/deliveries                      newest first, per_page, cursor paging (Link), status=success|failure
//   GET  /app/hook/deliveries/{delivery_id}        adds request (headers, payload) and response
//   POST /app/hook/deliveries/{delivery_id}/attempts  202; the fake sends it again, same GUID, redelivery=true
// and a switch that stands for the App's ingress being down (deliveries fail without
// reaching the App, status_code 0 as GitHub shows a failed connection).

export interface HookDelivery {
  id: number;
  guid: string;
  deliveredAt: Date;
  redelivery: boolean;
  durationMs: number;
  /** 0 when the App could not be reached */
  statusCode: number;
  /** GitHub's words: "OK", "Invalid HTTP Response: 503", "failed to connect to host" */
  status: string;
  event: string;
  action: string | null;
  installationId: number | null;
  repositoryId: number | null;
  /** the raw body sent, for redelivery byte for byte */
  body: string;
  requestHeaders: Record<string, string>;
  responseBody: string;
}

export interface DeliveryLogReply {
  status: number;
  body?: unknown;
  headers?: Record<string, string>;
}

const MAX_PER_PAGE = 100;

function succeeded(d: HookDelivery): boolean {
  return d.statusCode >= 200 && d.statusCode < 300;
}

function parseBody(body: string): Record<string, unknown> | null {
  try {
    const parsed: unknown = JSON.parse(body);
    return typeof parsed === "object" && parsed !== null && !Array.isArray(parsed) ? (parsed as Record<string, unknown>) : null;
  } catch {
    return null;
  }
}

function idOf(value: unknown): number | null {
  const id = (value as { id?: unknown } | undefined)?.id;
  return typeof id === "number" ? id : null;
}

export class DeliveryLog {
  /** oldest first */
  readonly entries: HookDelivery[] = [];
  /** ids of deliveries the App asked to redeliver, in order */
  readonly redeliveryRequests: number[] = [];
  /** When true, deliveries fail before reaching the App (ingress, TLS or load balancer down). */
  ingressDown = false;
  private nextId = 90_000_000_001;

  constructor(private readonly apiBaseUrl: string) {}

  /** Records one finished delivery attempt. */
  record(o: {
    guid: string;
    event: string;
    action: string | undefined;
    body: string;
    redelivery: boolean;
    startedAt: number;
    durationMs: number;
    statusCode: number;
    error?: string | undefined;
    responseBody: string;
    requestHeaders: Record<string, string>;
  }): HookDelivery {
    const payload = parseBody(o.body);
    const status =
      o.statusCode === 0
        ? (o.error ?? "failed to connect to host")
        : succeeded({ statusCode: o.statusCode } as HookDelivery)
          ? "OK"
          : `Invalid HTTP Response: ${o.statusCode}`;
    const delivery: HookDelivery = {
      id: this.nextId++,
      guid: o.guid,
      deliveredAt: new Date(o.startedAt),
      redelivery: o.redelivery,
      durationMs: o.durationMs,
      statusCode: o.statusCode,
      status,
      event: o.event,
      action: o.action ?? null,
      installationId: idOf(payload?.installation),
      repositoryId: idOf(payload?.repository),
      body: o.body,
      requestHeaders: o.requestHeaders,
      responseBody: o.responseBody,
    };
    this.entries.push(delivery);
    return delivery;
  }

  find(id: number): HookDelivery | undefined {
    return this.entries.find((d) => d.id === id);
  }

  /** GET /app/hook/deliveries. The cursor names the last id already seen ("v1_<id>"). */
  list(query: Record<string, string>, rawPath: string): DeliveryLogReply {
    const perPage = Math.min(MAX_PER_PAGE, Math.max(1, Number.parseInt(query.per_page ?? "30", 10) || 30));
    const cursor = /^v1_(\d+)$/.exec(query.cursor ?? "");
    if (query.cursor !== undefined && !cursor)
      return { status: 400, body: { message: "Invalid cursor", documentation_url: "https://docs.github.com/rest" } };
    const before = cursor ? Number(cursor[1]) : Infinity;
    const matching = this.entries
      .filter((d) => d.id < before)
      .filter((d) => query.status === undefined || (query.status === "success") === succeeded(d))
      .sort((a, b) => b.id - a.id);
    const page = matching.slice(0, perPage);
    const headers: Record<string, string> = {};
    if (matching.length > perPage) {
      const q = new URLSearchParams({ ...query, per_page: String(perPage), cursor: `v1_${page[page.length - 1]!.id}` });
      headers.link = `<${this.apiBaseUrl}${rawPath}?${q.toString()}>; rel="next"`;
    }
    return { status: 200, body: page.map((d) => this.simple(d)), headers };
  }

  /** GET /app/hook/deliveries/{delivery_id} */
  get(id: number): DeliveryLogReply {
    const d = this.find(id);
    if (!d) return { status: 404, body: { message: "Not Found", documentation_url: "https://docs.github.com/rest" } };
    return {
      status: 200,
      body: {
        ...this.simple(d),
        throttled_at: null,
        url: `${this.apiBaseUrl}/app/hook/deliveries/${d.id}`,
        request: { headers: d.requestHeaders, payload: parseBody(d.body) },
        response: { headers: { "content-type": "text/plain" }, payload: d.responseBody },
      },
    };
  }

  /** POST /app/hook/deliveries/{delivery_id}/attempts: `redeliver` sends it again. */
  attempt(id: number, redeliver: (d: HookDelivery) => void): DeliveryLogReply {
    const d = this.find(id);
    if (!d) return { status: 404, body: { message: "Not Found", documentation_url: "https://docs.github.com/rest" } };
    this.redeliveryRequests.push(id);
    redeliver(d);
    return { status: 202, body: {} };
  }

  private simple(d: HookDelivery): Record<string, unknown> {
    return {
      id: d.id,
      guid: d.guid,
      delivered_at: d.deliveredAt.toISOString().replace(/\.\d{3}Z$/, "Z"),
      redelivery: d.redelivery,
      duration: d.durationMs / 1000,
      status: d.status,
      status_code: d.statusCode,
      event: d.event,
      action: d.action,
      installation_id: d.installationId,
      repository_id: d.repositoryId,
    };
  }
}
