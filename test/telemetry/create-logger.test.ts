import { Writable } from "node:stream";
import { createLogger, createScrubber } from "../../src/telemetry/create-logger.js";

function capture() {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk, _encoding, done) {
      lines.push(String(chunk));
      done();
    },
  });
  return { lines, stream };
}

describe("logging never prints a secret", () => {
  const jit = Buffer.from(JSON.stringify({ ".runner": "x".repeat(60), ".credentials": "y".repeat(60) })).toString("base64");
  const pem = "-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA\nabc\n-----END RSA PRIVATE KEY-----";

  test("known fields are redacted", () => {
    const { lines, stream } = capture();
    const log = createLogger({ level: "info", secrets: [], destination: stream });
    log.info({ req: { headers: { authorization: "token abc" } }, encoded_jit_config: "zzz", env: { A: "b" }, token: "t" }, "x");
    expect(lines.join("")).not.toMatch(/token abc|zzz|"A"|"t"/);
  });

  test("secret values and shapes are scrubbed wherever they appear", () => {
    const { lines, stream } = capture();
    const log = createLogger({ level: "info", secrets: ["my-webhook-secret"], destination: stream });
    log.info(`message with my-webhook-secret and ghs_${"a".repeat(36)}`);
    log.error(new Error(`failed with config ${jit} and key ${pem}`));
    const output = lines.join("");
    expect(output).not.toContain("my-webhook-secret");
    expect(output).not.toContain("ghs_");
    expect(output).not.toContain(jit.slice(0, 40));
    expect(output).not.toContain("MIIEowIBAAKCAQEA");
    expect(output).toContain("[REDACTED]");
  });

  test("short values are not treated as secrets (they would mangle ordinary text)", () => {
    expect(createScrubber(["abc"])("abcdef")).toBe("abcdef");
  });
});
