// Captures the App's log lines (JSON) so tests can assert on them, and so the
// secret-leak test can search every byte the App printed.
import { Writable } from "node:stream";

export interface LogLine {
  level: number;
  msg: string;
  [field: string]: unknown;
}

export class LogCapture extends Writable {
  readonly raw: string[] = [];

  override _write(chunk: Buffer, _encoding: BufferEncoding, done: () => void): void {
    this.raw.push(String(chunk));
    done();
  }

  get lines(): LogLine[] {
    return this.raw
      .join("")
      .split("\n")
      .filter((line) => line.trim() !== "")
      .map((line) => JSON.parse(line) as LogLine);
  }

  /** Lines whose message matches. */
  find(msg: string | RegExp): LogLine[] {
    return this.lines.filter((line) => (typeof msg === "string" ? line.msg === msg : msg.test(line.msg)));
  }

  get text(): string {
    return this.raw.join("");
  }
}
