// `npm run reconcile [-- --full]`: one reconcile pass, its summary on stdout as JSON,
// exit code 0 when the pass could observe the world, 1 otherwise.
import { parseArgs } from "node:util";
import { loadSettings, SettingsError } from "../settings/load-settings.js";
import { reconcileOnce } from "./reconcile-once.js";

const { values } = parseArgs({ options: { full: { type: "boolean", default: false }, help: { type: "boolean", default: false } } });
if (values.help) {
  console.log("Usage: npm run reconcile [-- --full]\n  --full  also sweep every repository of every installation for queued jobs");
  process.exit(0);
}
try {
  const summary = await reconcileOnce(loadSettings(), { full: values.full, extraSecrets: [process.env.MODAL_TOKEN_SECRET] });
  console.log(JSON.stringify(summary));
  process.exit(summary.ok ? 0 : 1);
} catch (error) {
  if (!(error instanceof SettingsError)) throw error;
  console.error(error.message);
  process.exit(1);
}
