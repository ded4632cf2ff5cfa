// The Grafana dashboard and the alert rules in examples/ name metrics and labels by
// hand: a rename in metrics.ts would leave them silently empty. Every metric and
// every label they select on must exist in the App's registry.
import { readFileSync } from "node:fs";
import path from "node:path";
import { parse } from "yaml";
import { Metrics } from "../../src/telemetry/metrics.js";

const examples = path.join(process.cwd(), "examples");

interface Dashboard {
  panels: { type: string; title: string; targets?: { expr: string }[] }[];
  templating: { list: { type: string; query: string | { query: string } }[] };
}
interface Rules {
  groups: { name: string; rules: { alert: string; expr: string; for?: string; annotations: { summary: string } }[] }[];
}

const dashboard = JSON.parse(readFileSync(path.join(examples, "grafana-dashboard.json"), "utf8")) as Dashboard;
const rules = parse(readFileSync(path.join(examples, "prometheus-alerts.yml"), "utf8")) as Rules;

const dashboardExprs = [
  ...dashboard.panels.flatMap((panel) => (panel.targets ?? []).map((target) => target.expr)),
  ...dashboard.templating.list.filter((v) => v.type === "query").map((v) => (typeof v.query === "string" ? v.query : v.query.query)),
];
const alertExprs = rules.groups.flatMap((group) => group.rules.map((rule) => rule.expr));

/** The registry's metrics with the series names each exposes and their label names. */
function known(): Map<string, { base: string; labels: Set<string> }> {
  const metrics = new Metrics({ waiting: () => 0, sandboxes: () => 0 });
  const names = new Map<string, { base: string; labels: Set<string> }>();
  for (const metric of metrics.registry.getMetricsAsArray()) {
    const { name, labelNames = [] } = metric as unknown as { name: string; labelNames?: string[] };
    const type = (metric as unknown as { type: string }).type;
    const series =
      type === "histogram"
        ? [`${name}_bucket`, `${name}_sum`, `${name}_count`]
        : type === "summary"
          ? [name, `${name}_sum`, `${name}_count`]
          : [name];
    for (const s of series)
      names.set(s, {
        base: name,
        labels: new Set([...labelNames, ...(s.endsWith("_bucket") ? ["le"] : []), ...(type === "summary" ? ["quantile"] : [])]),
      });
  }
  return names;
}

const METRIC = /\b(?:modal_runner|process|nodejs)_[a-z0-9_]+\b/g;

function references(exprs: string[]): { metric: string; labels: string[] }[] {
  return exprs.flatMap((expr) =>
    [...expr.matchAll(METRIC)].map((match) => {
      const after = expr.slice((match.index ?? 0) + match[0].length);
      const selector = after.startsWith("{") ? after.slice(1, after.indexOf("}")) : "";
      const labels = [...selector.matchAll(/([a-zA-Z_]\w*)\s*(?:=~|!~|!=|=)/g)].map((m) => m[1] ?? "");
      return { metric: match[0], labels };
    }),
  );
}

test.each([
  ["examples/grafana-dashboard.json", dashboardExprs],
  ["examples/prometheus-alerts.yml", alertExprs],
])("every metric and label %s refers to exists in the registry", (_file, exprs) => {
  const registry = known();
  const refs = references(exprs);
  expect(refs.length).toBeGreaterThan(5);
  const unknownMetrics = refs.filter((ref) => !registry.has(ref.metric)).map((ref) => ref.metric);
  expect(unknownMetrics).toEqual([]);
  const unknownLabels = refs.flatMap((ref) =>
    ref.labels.filter((label) => !registry.get(ref.metric)?.labels.has(label)).map((label) => `${ref.metric}{${label}}`),
  );
  expect(unknownLabels).toEqual([]);
});

test("the alert rules cover what an operator must hear about", () => {
  const alerts = rules.groups.flatMap((group) => group.rules);
  const exprOf = (name: string): string => alerts.find((rule) => rule.alert === name)?.expr ?? "";
  expect(exprOf("ModalRunnerReconcileStale")).toContain("modal_runner_last_reconcile_success_timestamp_seconds");
  expect(exprOf("ModalRunnerReconcileStale")).toContain("> 600");
  expect(exprOf("ModalRunnerJobsWaiting")).toContain('state="waiting"');
  expect(alerts.find((rule) => rule.alert === "ModalRunnerJobsWaiting")?.for).toBe("10m");
  expect(exprOf("ModalRunnerModalBreakerOpen")).toContain("modal_runner_modal_breaker_open");
  expect(alerts.find((rule) => rule.alert === "ModalRunnerModalBreakerOpen")?.for).toBe("5m");
  expect(exprOf("ModalRunnerSpendRateHigh")).toContain("modal_runner_cost_dollars_total");
  expect(exprOf("ModalRunnerGitHubBudgetLow")).toContain("modal_runner_github_budget_points");
  expect(exprOf("ModalRunnerDispatchFailures")).toContain('outcome="failed"');
  for (const rule of alerts) expect(rule.annotations.summary).toBeTruthy();
});

test("the check itself catches a misspelt metric or label", () => {
  const registry = known();
  const [wrongMetric, wrongLabel] = references(["rate(modal_runner_jobs_totl[5m])", 'modal_runner_jobs_current{stat="running"}']);
  expect(registry.has(wrongMetric?.metric ?? "")).toBe(false);
  expect(registry.get(wrongLabel?.metric ?? "")?.labels.has(wrongLabel?.labels[0] ?? "")).toBe(false);
});
