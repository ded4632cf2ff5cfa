// The doctor's checks, once the Modal app and images are resolved: credentials, the
// webhook, each installation's permissions and runner group, Modal. One summary
// line (a warning when something fails), so a wrong setting shows at start-up, not
// as the first job's failure minutes later.
import type { Logger } from "pino";
import type { Runtime } from "./assemble.js";
import { runDoctor } from "./doctor/run-doctor.js";
import { summarizeChecks } from "./doctor/summarize-checks.js";
import { describeFailure } from "./lib/errors.js";
import type { RuntimeIo } from "./runtime-io.js";
import type { Settings } from "./settings/load-settings.js";

export async function checkAtStartUp(settings: Settings, io: RuntimeIo, runtime: Runtime, log: Logger): Promise<void> {
  try {
    await runtime.fleet.prepare(settings.runner.config.profiles);
    const results = await runDoctor(settings, {
      appOctokit: io.github.app,
      installationOctokit: io.github.installation,
      modal: io.modal,
      now: io.now,
    });
    runtime.telemetry.doctorRan(results);
    const summary = summarizeChecks(results);
    const problems = results
      .filter((result) => result.status !== "ok")
      .map(({ check, status, detail, fix }) => ({ check, status, detail, fix }));
    if (summary.ok) log.info({ counts: summary.counts, problems }, summary.line);
    else log.warn({ counts: summary.counts, problems }, `${summary.line}; run \`npm run doctor\` for the table`);
  } catch (error) {
    log.warn({ reason: describeFailure(error).reason }, "start-up checks could not run");
  }
}
