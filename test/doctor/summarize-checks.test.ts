// The doctor's verdict: warnings alone pass (exit 0), any failure fails; the one
// line names what is not ok, once per check.
import { fail, ok, warn } from "../../src/doctor/check-result.js";
import { summarizeChecks } from "../../src/doctor/summarize-checks.js";

test.each([
  { results: [ok("a", "")], passes: true, line: "doctor: 1 ok, 0 warnings, 0 failures" },
  { results: [ok("a", ""), warn("Modal", "", "")], passes: true, line: "doctor: 1 ok, 1 warning, 0 failures (warn: Modal)" },
  {
    results: [fail("settings", "", ""), fail("settings", "", ""), warn("b", "", "")],
    passes: false,
    line: "doctor: 0 ok, 1 warning, 2 failures (fail: settings; warn: b)",
  },
])("$line", ({ results, passes, line }) => {
  expect(summarizeChecks(results)).toMatchObject({ ok: passes, line });
});
