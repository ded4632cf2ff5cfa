// The doctor's first row: every setting valid (the same loadSettings the server
// uses), or one failing row per problem with the setting's own message.
import { loadSettings, SettingsError, type Settings } from "../settings/load-settings.js";
import { fail, ok, type CheckResult } from "./check-result.js";

export function checkSettings(env: Record<string, string | undefined>, cwd: string): { settings?: Settings; results: CheckResult[] } {
  try {
    const settings = loadSettings(env, cwd, { command: "doctor" });
    const profiles = settings.runner.config.profiles.map((profile) => profile.name).join(", ");
    return {
      settings,
      results: [ok("settings", `valid; GitHub ${settings.github.baseUrl}, App ${settings.github.appId}, profiles ${profiles}`)],
    };
  } catch (error) {
    if (!(error instanceof SettingsError)) throw error;
    return {
      results: error.problems.map((problem) =>
        fail("settings", `${problem.key}: ${problem.message}`, "set it in .env or the environment (README: Settings)"),
      ),
    };
  }
}
