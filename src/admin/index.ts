export { adminPlugin, isBug, type AdminEngine, type AdminOptions, type JsonObject, type JsonValue, type MaintenanceOptions } from './app.ts'
export { basicAuthorization, isAuthorized, type AdminCredentials } from './auth.ts'
export { httpStatusOf } from './errors.ts'
export { addStatsGauges, createMetricsRegistry, type Registry, type StatsGauge } from './metrics.ts'
