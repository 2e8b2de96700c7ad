/**
 * Staleness-based health. Each watched component (a source, the sink) says when it last made
 * progress; it is stale once that is older than its kind's limit. A sink with nothing to do is
 * never stale: its owner marks it fresh while idle.
 */

export type ComponentKind = "source" | "sink";

export interface StaleLimits {
  readonly sourceStaleMs: number;
  readonly sinkStaleMs: number;
}

export interface ComponentHealth {
  readonly component: string;
  readonly kind: ComponentKind;
  readonly seconds_since_progress: number;
  readonly limit_secs: number;
  readonly stale: boolean;
}

export interface HealthReport {
  readonly status: "ok" | "stale";
  readonly mode: string;
  /** The names of stale components, for a one-glance answer. */
  readonly stale: readonly string[];
  readonly components: readonly ComponentHealth[];
}

export class Health {
  readonly #progress = new Map<string, { kind: ComponentKind; at: number }>();
  #limits: StaleLimits;

  constructor(readonly mode: string, limits: StaleLimits) {
    this.#limits = limits;
  }

  /** New limits apply to the next check (SIGHUP reload). */
  setLimits(limits: StaleLimits): void {
    this.#limits = limits;
  }

  get limits(): StaleLimits {
    return this.#limits;
  }

  /** Start watching a component; its clock starts now (a grace period of one limit). */
  watch(component: string, kind: ComponentKind, now = Date.now()): void {
    if (!this.#progress.has(component)) this.#progress.set(component, { kind, at: now });
  }

  /** The component made progress (or, for a sink, has nothing waiting). */
  progress(component: string, now = Date.now()): void {
    const entry = this.#progress.get(component);
    if (entry) entry.at = Math.max(entry.at, now);
  }

  /** Stop watching (a source that ended cleanly is not stale). */
  forget(component: string): void {
    this.#progress.delete(component);
  }

  report(now = Date.now()): HealthReport {
    const components: ComponentHealth[] = [];
    for (const [component, { kind, at }] of this.#progress) {
      const limitMs = kind === "source" ? this.#limits.sourceStaleMs : this.#limits.sinkStaleMs;
      const age = Math.max(0, now - at);
      components.push({
        component,
        kind,
        seconds_since_progress: Math.round(age / 100) / 10,
        limit_secs: limitMs / 1000,
        stale: age > limitMs,
      });
    }
    const stale = components.filter((c) => c.stale).map((c) => c.component);
    return { status: stale.length === 0 ? "ok" : "stale", mode: this.mode, stale, components };
  }
}
