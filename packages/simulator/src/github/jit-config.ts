// JIT config blobs, shaped like the runner's files (.runner, .credentials,
// .credentials_rsaparams, each base64 JSON) inside a base64 JSON envelope: the fake
// issues them, and a simulated runner (or a test) reads them back.

export interface DecodedJitConfig {
  runnerId: number;
  runnerName: string;
  runnerGroupId: number;
  gitHubUrl: string;
  workFolder: string;
  ephemeral: boolean;
  secret: string;
}

export function b64json(value: unknown): string {
  return Buffer.from(JSON.stringify(value)).toString("base64");
}

function unb64json(value: unknown): Record<string, unknown> | undefined {
  if (typeof value !== "string") return undefined;
  try {
    const parsed: unknown = JSON.parse(Buffer.from(value, "base64").toString("utf8"));
    return typeof parsed === "object" && parsed !== null && !Array.isArray(parsed) ? (parsed as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

/** Reads a JIT config issued by a FakeGitHub; undefined when it is not one. */
export function decodeJitConfig(encoded: string): DecodedJitConfig | undefined {
  const envelope = unb64json(encoded);
  const runnerFile = unb64json(envelope?.[".runner"]);
  const rsa = unb64json(envelope?.[".credentials_rsaparams"]);
  if (!runnerFile || !rsa) return undefined;
  if (typeof runnerFile.AgentId !== "number" || typeof rsa.secret !== "string") return undefined;
  return {
    runnerId: runnerFile.AgentId,
    runnerName: String(runnerFile.AgentName),
    runnerGroupId: Number(runnerFile.PoolId),
    gitHubUrl: String(runnerFile.GitHubUrl),
    workFolder: String(runnerFile.WorkFolder),
    ephemeral: runnerFile.Ephemeral === true,
    secret: rsa.secret,
  };
}
