import { OutcomeLog } from "../../src/telemetry/outcome-log.js";
import { SpendToday } from "../../src/telemetry/spend-today.js";

test("spend adds up per installation and profile, and starts again at midnight UTC", () => {
  let now = Date.parse("2026-11-28T23:59:00Z");
  const spend = new SpendToday(() => now);
  spend.add(1, "default", 0.5);
  spend.add(1, "default", 0.25);
  spend.add(1, "gpu", 2);
  spend.add(2, "default", 0.1);
  expect(spend.list()).toEqual([
    { installation: 1, profile: "gpu", dollars: 2 },
    { installation: 1, profile: "default", dollars: 0.75 },
    { installation: 2, profile: "default", dollars: 0.1 },
  ]);
  now = Date.parse("2026-11-29T00:00:01Z");
  expect(spend.list()).toEqual([]);
  spend.add(2, "default", 0.3);
  expect(spend.list()).toEqual([{ installation: 2, profile: "default", dollars: 0.3 }]);
});

test("the outcome log keeps the newest N, newest first", () => {
  const log = new OutcomeLog(3);
  for (let jobId = 1; jobId <= 5; jobId += 1) log.add({ at: `2026-11-28T10:00:0${jobId}Z`, jobId, repo: "o/r", kind: "started" });
  expect(log.list().map((x) => x.jobId)).toEqual([5, 4, 3]);
});
