// Every test process starts from a clean, offline environment: the Modal SDK reads
// ~/.modal.toml and MODAL_* when imported, and Probot reads APP_ID/PRIVATE_KEY.
import path from "node:path";
import os from "node:os";

for (const key of Object.keys(process.env)) {
  if (key.startsWith("MODAL_") || key.startsWith("GHE_")) delete process.env[key];
}
for (const key of ["APP_ID", "PRIVATE_KEY", "PRIVATE_KEY_PATH", "WEBHOOK_SECRET", "WEBHOOK_PROXY_URL", "LOG_LEVEL", "REDIS_URL"]) {
  delete process.env[key];
}
process.env.MODAL_CONFIG_PATH = path.join(os.tmpdir(), "modal-github-runner-no-such-modal.toml");
