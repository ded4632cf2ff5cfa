// The in-process fake Modal served over real gRPC, so an App started as a child
// process (`npm start`, `npx probot run`) talks to it with the stock SDK and nothing
// but `MODAL_SERVER_URL=http://127.0.0.1:<port>` plus a token id and secret.
//
// The SDK's service definition (`ModalClientDefinition`, ts-proto generated) is not
// exported by `modal` 0.11.1. The SDK hands it to nice-grpc's client factory when a
// `ModalClient` is built, so we read it there: for the length of one constructor call,
// nice-grpc's `normalizeServiceDefinition` (the same CommonJS module instance the SDK
// loads) is wrapped to keep the Modal definition it sees. Building the client opens no
// connection (grpc-js channels connect on the first call).
//
// Each RPC is forwarded to the FakeModal's control-plane methods (the same ones the
// in-process `cpClient` seam uses), so faults, latency and state behave the same
// either way. What only the wire needs is answered here:
// - `AuthTokenGet`: the SDK asks for a short-lived JWT before any other call and reads
//   its `exp`; we mint an unsigned one.
// - credentials: every call must carry the `x-modal-token-id`/`-secret` this server
//   was started with (UNAUTHENTICATED otherwise), as Modal's servers require.
// - errors: the fake throws nice-grpc `ClientError`s; a server must throw
//   `ServerError`s, so the status code and message are carried over.
// The SDK picks an insecure channel for an `http://` URL (nice-grpc's `createChannel`).
import { createRequire } from "node:module";
import { ClientError, Metadata, ServerError, Status, createServer, type CallContext, type Server } from "nice-grpc";
import { ModalClient } from "modal";
import type { FakeModal } from "./fake-modal.js";

export interface ModalGrpcServerOptions {
  /** Port on 127.0.0.1; 0 (default) picks a free one. */
  port?: number;
  /** Credentials every call must present. Defaults: "ak-test" / "as-test". */
  tokenId?: string;
  tokenSecret?: string;
}

export interface ModalGrpcServer {
  /** `http://127.0.0.1:<port>`: the value for `MODAL_SERVER_URL`. */
  readonly url: string;
  readonly port: number;
  readonly tokenId: string;
  readonly tokenSecret: string;
  /** How many calls were refused for missing or wrong credentials. */
  readonly refusedCalls: number;
  close(): Promise<void>;
}

interface MethodDefinition {
  name: string;
  requestStream: boolean;
  responseStream: boolean;
}
interface ServiceDefinition {
  name: string;
  fullName: string;
  methods: Record<string, MethodDefinition>;
}

let cachedDefinition: ServiceDefinition | undefined;

/** The SDK's own `modal.client.ModalClient` service definition (see the file comment). */
export function modalServiceDefinition(): ServiceDefinition {
  if (cachedDefinition) return cachedDefinition;
  const require = createRequire(import.meta.url);
  const definitions = require("nice-grpc/lib/service-definitions") as { normalizeServiceDefinition: (d: unknown) => unknown };
  const original = definitions.normalizeServiceDefinition;
  let seen: ServiceDefinition | undefined;
  definitions.normalizeServiceDefinition = (definition: unknown) => {
    const candidate = definition as Partial<ServiceDefinition> | undefined;
    if (candidate?.fullName === "modal.client.ModalClient") seen = candidate as ServiceDefinition;
    return original(definition);
  };
  try {
    new ModalClient({ tokenId: "ak-probe", tokenSecret: "as-probe" }).close();
  } finally {
    definitions.normalizeServiceDefinition = original;
  }
  if (!seen) throw new Error("could not read Modal's gRPC service definition from the modal SDK (has its version changed?)");
  cachedDefinition = seen;
  return seen;
}

/** An unsigned JWT whose `exp` is an hour away: all the SDK reads from it. */
function mintAuthToken(): string {
  const encode = (value: object) => Buffer.from(JSON.stringify(value)).toString("base64url");
  return `${encode({ alg: "none", typ: "JWT" })}.${encode({ exp: Math.floor(Date.now() / 1000) + 3600 })}.`;
}

function toServerError(error: unknown): unknown {
  if (error instanceof ServerError) return error;
  if (error instanceof ClientError) return new ServerError(error.code, error.details);
  return new ServerError(Status.INTERNAL, error instanceof Error ? error.message : String(error));
}

export async function startModalGrpcServer(modal: FakeModal, options: ModalGrpcServerOptions = {}): Promise<ModalGrpcServer> {
  const definition = modalServiceDefinition();
  const tokenId = options.tokenId ?? "ak-test";
  const tokenSecret = options.tokenSecret ?? "as-test";
  let refusedCalls = 0;

  const checkCredentials = (metadata: Metadata, method: string) => {
    if (metadata.get("x-modal-token-id") === tokenId && metadata.get("x-modal-token-secret") === tokenSecret) return;
    refusedCalls += 1;
    throw new ServerError(Status.UNAUTHENTICATED, `${method}: invalid Modal token id or secret`);
  };

  const implementation: Record<string, unknown> = {};
  for (const [key, method] of Object.entries(definition.methods)) {
    if (method.requestStream) {
      implementation[key] = async () => {
        throw new ServerError(Status.UNIMPLEMENTED, `the fake Modal does not implement ${method.name}`);
      };
    } else if (method.responseStream) {
      implementation[key] = async function* (request: unknown, context: CallContext) {
        checkCredentials(context.metadata, method.name);
        try {
          const stream = modal.cpClient[key](request, { signal: context.signal }) as AsyncIterable<unknown>;
          for await (const item of stream) yield item;
        } catch (error) {
          throw toServerError(error);
        }
      };
    } else if (key === "authTokenGet") {
      implementation[key] = async (_request: unknown, context: CallContext) => {
        checkCredentials(context.metadata, method.name);
        return { token: mintAuthToken() };
      };
    } else {
      implementation[key] = async (request: unknown, context: CallContext) => {
        checkCredentials(context.metadata, method.name);
        try {
          return await modal.cpClient[key](request, { signal: context.signal });
        } catch (error) {
          throw toServerError(error);
        }
      };
    }
  }

  const server: Server = createServer();
  // The definition is the SDK's own ts-proto object; nice-grpc accepts it as is.
  server.add(definition as never, implementation as never);
  const port = await server.listen(`127.0.0.1:${options.port ?? 0}`);
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    tokenId,
    tokenSecret,
    get refusedCalls() {
      return refusedCalls;
    },
    async close() {
      // Long polls (SandboxWait) would hold a graceful shutdown open.
      server.forceShutdown();
    },
  };
}
