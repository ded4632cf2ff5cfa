// `npm run reconcile [-- --full]`: one reconcile pass, its summary on stdout as JSON,
// exit code 0 when the pass could observe the world, 1 otherwise, 2 for bad usage.
import { loadSettings, SettingsError } from "../settings/load-settings.js";
import { loadDotenv } from "../setup/load-dotenv.js";
import { flagsOrExit } from "./parse-flags.js";
import { reconcileOnce } from "./reconcile-once.js";

loadDotenv();
const flags = flagsOrExit(process.argv.slice(2), {
  command: "npm run reconcile --",
  flags: { full: { type: "boolean", description: "also sweep every repository of every installation for queued jobs" } },
});
try {
  const summary = await reconcileOnce(loadSettings(process.env, process.cwd(), { command: "reconcile" }), {
    full: flags.full,
    extraSecrets: [process.env.MODAL_TOKEN_SECRET],
  });
  console.log(JSON.stringify(summary));
  process.exit(summary.ok ? 0 : 1);
} catch (error) {
  if (!(error instanceof SettingsError)) throw error;
  console.error(error.message);
  process.exit(1);
}
