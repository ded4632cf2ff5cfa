// The request budgets of every installation the process talks to, keyed like GitHub
// keys its limits: one per installation, one for the App's own JWT ("app").
// A status page or metrics gauge reads headroom() from here.
import { systemClock, type Clock } from "../lib/clock.js";
import { GITHUB_SECONDARY_LIMITS, InstallationBudget, type Budget, type BudgetHeadroom, type BudgetLimits } from "./installation-budget.js";

/** Budgets kept before idle ones (full, nothing waiting) are forgotten: a fresh one is the same. */
const PRUNE_ABOVE = 1000;

export type BudgetKey = number | "app";

/** Makes one key's budget: local by default; a fleet shares them in Redis. */
export type BudgetFactory = (key: BudgetKey, limits: BudgetLimits, clock: Clock) => Budget;

const localBudget: BudgetFactory = (_key, limits, clock) => new InstallationBudget(limits, clock);

export class RequestBudgets {
  private readonly budgets = new Map<BudgetKey, Budget>();

  constructor(
    readonly limits: BudgetLimits = GITHUB_SECONDARY_LIMITS,
    readonly clock: Clock = systemClock,
    private readonly create: BudgetFactory = localBudget,
  ) {}

  of(key: BudgetKey): Budget {
    let budget = this.budgets.get(key);
    if (!budget) {
      if (this.budgets.size >= PRUNE_ABOVE) this.prune();
      budget = this.create(key, this.limits, this.clock);
      this.budgets.set(key, budget);
    }
    return budget;
  }

  /** Headroom of one installation; a full bucket when it has made no request lately. */
  headroom(key: BudgetKey): BudgetHeadroom {
    return (this.budgets.get(key) ?? new InstallationBudget(this.limits, this.clock)).headroom();
  }

  /** Headroom of every installation with a budget in use. */
  all(): Array<{ key: BudgetKey } & BudgetHeadroom> {
    return [...this.budgets].map(([key, budget]) => ({ key, ...budget.headroom() }));
  }

  private prune(): void {
    for (const [key, budget] of this.budgets) if (budget.isIdle()) this.budgets.delete(key);
  }
}
