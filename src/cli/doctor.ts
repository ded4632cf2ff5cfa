// `npm run doctor`: checks settings, the GitHub App (identity, webhook, each
// installation's permissions and runner group, failed deliveries) and Modal (token,
// app, each profile's image and secrets), prints a table with a fix for each
// problem. Exit code 0 when nothing failed (warnings allowed), 1 otherwise.
import { checkSettings } from "../doctor/check-settings.js";
import { doctorIo } from "../doctor-io.js";
import { formatCheckTable } from "../doctor/format-check-table.js";
import { runDoctor } from "../doctor/run-doctor.js";
import { summarizeChecks } from "../doctor/summarize-checks.js";
import { loadDotenv } from "../setup/load-dotenv.js";
import { flagsOrExit } from "./parse-flags.js";

flagsOrExit(process.argv.slice(2), { command: "npm run doctor --", flags: {} });
loadDotenv();
const { settings, results } = checkSettings(process.env, process.cwd());
if (settings) {
  // The doctor's table is its output: keep the App's own log lines out of it.
  const quiet = { ...settings, logLevel: "error" };
  results.push(...(await runDoctor(settings, doctorIo(quiet, { extraSecrets: [process.env.MODAL_TOKEN_SECRET] }))));
}
const summary = summarizeChecks(results);
console.log(formatCheckTable(results));
console.log(summary.line);
process.exit(summary.ok ? 0 : 1);
