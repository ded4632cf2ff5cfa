// What `start()` hands back to main.ts, in every mode: where it listens, and how
// to stop it (stop taking requests, let in-flight work finish within a bound).
import type { AddressInfo } from "node:net";

export interface ListeningServer {
  address(): AddressInfo;
  shutdown(timeoutMs: number): Promise<void>;
}
