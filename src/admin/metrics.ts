// The Prometheus registry of one server process: Node process metrics, build info, and gauges
// other layers add. Values from the storage core are read at scrape time through callbacks, so
// nothing below admin/ imports prom-client and no timer polls the store between scrapes.
import { collectDefaultMetrics, Gauge, Registry } from 'prom-client'

export type { Registry } from 'prom-client'

export function createMetricsRegistry(options: { version: string }): Registry {
  const registry = new Registry()
  collectDefaultMetrics({ register: registry })
  const buildInfo = new Gauge({
    name: 'cairn_build_info',
    help: 'Cairn version running in this process (always 1)',
    labelNames: ['version', 'node_version'],
    registers: [registry],
  })
  buildInfo.set({ version: options.version, node_version: process.versions.node }, 1)
  return registry
}

export interface StatsGauge<Stats> {
  /** Full metric name, e.g. cairn_chunk_store_live_bytes (units last, Prometheus style). */
  name: string
  help: string
  pick: (stats: Stats) => number
}

/**
 * Register gauges filled from one stats snapshot per scrape: all gauges of one call share a
 * single read() while a scrape is in flight. A failed read sets the gauges to NaN and calls
 * onError; a scrape never fails because one source did.
 */
export function addStatsGauges<Stats>(
  registry: Registry,
  read: () => Promise<Stats>,
  gauges: ReadonlyArray<StatsGauge<Stats>>,
  onError: (error: unknown) => void = () => {},
): void {
  let pending: Promise<Stats | undefined> | undefined
  const snapshot = (): Promise<Stats | undefined> => {
    pending ??= read()
      .catch((error: unknown) => {
        onError(error)
        return undefined
      })
      .finally(() => {
        pending = undefined
      })
    return pending
  }
  for (const spec of gauges) {
    new Gauge({
      name: spec.name,
      help: spec.help,
      registers: [registry],
      async collect() {
        const stats = await snapshot()
        this.set(stats === undefined ? Number.NaN : spec.pick(stats))
      },
    })
  }
}
