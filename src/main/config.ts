// Server configuration, parsed ONCE here from flags, environment and an optional JSON config
// file, with precedence flag > env > file > default. Nothing below main/ reads process.env or
// argv: the parsed ServerConfig is passed down explicitly.
//
// Contract: parseServerConfig either returns a complete, validated config (absolute paths,
// parsed addresses, numbers in range) or throws UsageError naming the option and its source.
// Secrets (root credentials, master key) come from the environment only, never from flags
// (argv is visible to every local user in `ps`) or the config file.
import { isAbsolute, resolve, dirname } from 'node:path'
import { limits, nfsLimits, parseSize, isStoreError } from '../lib/index.ts'
import { parseFlags, type FlagOptions } from './flags.ts'
import { isLogLevel, logLevels, type LogLevel } from './logger.ts'
import { parseAddress, formatAddress, addressesConflict, type Address } from './address.ts'
import { UsageError } from './usage-error.ts'

export { parseAddress, formatAddress, type Address } from './address.ts'

type OptionKind = 'path' | 'optional-path' | 'address' | 'seconds' | 'log-level' | 'size' | 'domains' | 'region'

interface OptionSpec {
  kind: OptionKind
  env: string
  /** Default as the user would type it; undefined means "none" (or derived, see help). */
  defaultText: string | undefined
  placeholder: string
  help: string
}

/** Every server option: flag name (also the config-file key) -> spec. */
export const serverOptionSpecs = {
  'data-dir': { kind: 'path', env: 'CAIRN_DATA_DIR', defaultText: './data', placeholder: 'DIR', help: 'data directory (metadata, packs, keys, credentials)' },
  'cold-dir': { kind: 'path', env: 'CAIRN_COLD_DIR', defaultText: undefined, placeholder: 'DIR', help: 'cold-tier pack directory (default <data-dir>/cold)' },
  's3-address': { kind: 'address', env: 'CAIRN_S3_ADDRESS', defaultText: '127.0.0.1:9000', placeholder: 'HOST:PORT', help: 'S3 API over HTTP' },
  's3-tls-address': { kind: 'address', env: 'CAIRN_S3_TLS_ADDRESS', defaultText: '127.0.0.1:9443', placeholder: 'HOST:PORT', help: 'S3 API over HTTPS' },
  's3-tls-cert': { kind: 'optional-path', env: 'CAIRN_S3_TLS_CERT', defaultText: undefined, placeholder: 'PATH', help: 'PEM certificate for --s3-tls-address (default: self-signed, generated into <data-dir>/tls)' },
  's3-tls-key': { kind: 'optional-path', env: 'CAIRN_S3_TLS_KEY', defaultText: undefined, placeholder: 'PATH', help: 'PEM private key for --s3-tls-cert' },
  's3-domain': { kind: 'domains', env: 'CAIRN_S3_DOMAIN', defaultText: undefined, placeholder: 'DOMAIN[,DOMAIN]', help: 'base domains for virtual-host-style S3 addressing (bucket.DOMAIN); default: path-style only' },
  's3-region': { kind: 'region', env: 'CAIRN_S3_REGION', defaultText: undefined, placeholder: 'REGION', help: 'the only region S3 requests may sign for (default: any region is accepted)' },
  'admin-address': { kind: 'address', env: 'CAIRN_ADMIN_ADDRESS', defaultText: '127.0.0.1:9001', placeholder: 'HOST:PORT', help: 'admin API, /health and /metrics' },
  'nbd-address': { kind: 'address', env: 'CAIRN_NBD_ADDRESS', defaultText: '127.0.0.1:10809', placeholder: 'HOST:PORT', help: 'NBD block volumes over TCP' },
  'nbd-socket': { kind: 'optional-path', env: 'CAIRN_NBD_SOCKET', defaultText: undefined, placeholder: 'PATH', help: 'NBD over a Unix socket (default: none)' },
  'nbd-tls-cert': { kind: 'optional-path', env: 'CAIRN_NBD_TLS_CERT', defaultText: undefined, placeholder: 'PATH', help: 'PEM certificate: NBD clients must then use STARTTLS (default: no TLS)' },
  'nbd-tls-key': { kind: 'optional-path', env: 'CAIRN_NBD_TLS_KEY', defaultText: undefined, placeholder: 'PATH', help: 'PEM private key for --nbd-tls-cert' },
  'nfs-address': { kind: 'address', env: 'CAIRN_NFS_ADDRESS', defaultText: '127.0.0.1:2049', placeholder: 'HOST:PORT', help: 'NFSv4.0/4.1 file systems' },
  'nfs-lease-seconds': { kind: 'seconds', env: 'CAIRN_NFS_LEASE_SECONDS', defaultText: String(nfsLimits.leaseMsDefault / 1000), placeholder: 'N', help: 'NFS client lease: a client silent this long (plus half again) loses its opens and locks' },
  'nfs-grace-seconds': { kind: 'seconds', env: 'CAIRN_NFS_GRACE_SECONDS', defaultText: undefined, placeholder: 'N', help: 'after a start, NFS clients only reclaim state this long (default: the lease)' },
  'gc-grace-seconds': { kind: 'seconds', env: 'CAIRN_GC_GRACE_SECONDS', defaultText: String(limits.gcGraceMsDefault / 1000), placeholder: 'N', help: 'keep unreferenced chunks this long before collecting them' },
  'maintenance-interval-seconds': { kind: 'seconds', env: 'CAIRN_MAINTENANCE_INTERVAL_SECONDS', defaultText: '600', placeholder: 'N', help: 'run garbage collection and pack compaction this often (0: never)' },
  'scrub-interval-seconds': { kind: 'seconds', env: 'CAIRN_SCRUB_INTERVAL_SECONDS', defaultText: String(7 * 24 * 3600), placeholder: 'N', help: 'verify every stored chunk this often (0: never)' },
  'lifecycle-day-seconds': { kind: 'seconds', env: 'CAIRN_LIFECYCLE_DAY_SECONDS', defaultText: '86400', placeholder: 'N', help: 'length of a "day" in S3 lifecycle rules and restores (shorten it to test rules)' },
  'lifecycle-interval-seconds': { kind: 'seconds', env: 'CAIRN_LIFECYCLE_INTERVAL_SECONDS', defaultText: '3600', placeholder: 'N', help: 'start a pass applying S3 lifecycle rules at most this often' },
  'restore-expedited-seconds': { kind: 'seconds', env: 'CAIRN_RESTORE_EXPEDITED_SECONDS', defaultText: '300', placeholder: 'N', help: 'RestoreObject delay of the Expedited tier (DEEP_ARCHIVE: 3x; Expedited refused)' },
  'restore-standard-seconds': { kind: 'seconds', env: 'CAIRN_RESTORE_STANDARD_SECONDS', defaultText: '14400', placeholder: 'N', help: 'RestoreObject delay of the Standard tier (DEEP_ARCHIVE: 3x)' },
  'restore-bulk-seconds': { kind: 'seconds', env: 'CAIRN_RESTORE_BULK_SECONDS', defaultText: '43200', placeholder: 'N', help: 'RestoreObject delay of the Bulk tier (DEEP_ARCHIVE: 3x)' },
  'log-level': { kind: 'log-level', env: 'CAIRN_LOG_LEVEL', defaultText: 'info', placeholder: 'LEVEL', help: `one of ${logLevels.join(', ')}` },
} as const satisfies Record<string, OptionSpec>

export type ServerOptionName = keyof typeof serverOptionSpecs
const optionNames = Object.keys(serverOptionSpecs) as ServerOptionName[]

export const configFileEnv = 'CAIRN_CONFIG'

export interface ServerConfig {
  /** Absolute. */
  readonly dataDir: string
  /** Absolute. */
  readonly coldDir: string
  readonly s3Address: Address
  readonly s3TlsAddress: Address
  /** Absolute, or undefined: a self-signed certificate is generated (both or neither set). */
  readonly s3TlsCertPath: string | undefined
  readonly s3TlsKeyPath: string | undefined
  /** Lowercase base domains for virtual-host-style addressing; empty: path-style only. */
  readonly s3Domains: readonly string[]
  /** When set, the only region accepted in S3 signatures and LocationConstraint. */
  readonly s3Region: string | undefined
  readonly adminAddress: Address
  readonly nbdAddress: Address
  /** Absolute, or undefined for no Unix-socket listener. */
  readonly nbdSocket: string | undefined
  /** Absolute; both or neither. When set, NBD requires TLS (STARTTLS). */
  readonly nbdTlsCertPath: string | undefined
  readonly nbdTlsKeyPath: string | undefined
  readonly nfsAddress: Address
  /** NFS lease_time, at least nfsLimits.leaseMsMin. */
  readonly nfsLeaseMs: number
  /** Reclaim-only period after a start (0: none). */
  readonly nfsGraceMs: number
  readonly gcGraceMs: number
  /** 0 disables background GC + compaction. */
  readonly maintenanceIntervalMs: number
  /** 0 disables the background scrub. */
  readonly scrubIntervalMs: number
  /** S3 lifecycle and restore (docs/lifecycle.md): a "day", the pass interval, restore delays per tier. */
  readonly lifecycleDayMs: number
  readonly lifecycleIntervalMs: number
  readonly restoreDelaysMs: { readonly Expedited: number; readonly Standard: number; readonly Bulk: number }
  readonly logLevel: LogLevel
  /** Absolute path of the config file that was read, if any. */
  readonly configFile: string | undefined
  /** CAIRN_ROOT_ACCESS_KEY / CAIRN_ROOT_SECRET_KEY as given (validated in credentials.ts). */
  readonly rootAccessKeyText: string | undefined
  readonly rootSecretKeyText: string | undefined
  /** CAIRN_MASTER_KEY as given (validated by crypto's loadMasterKey). */
  readonly masterKeyText: string | undefined
  /** CAIRN_PREVIOUS_MASTER_KEY as given: the key being rotated away from (see docs/format/keys.md). */
  readonly previousMasterKeyText: string | undefined
}

export interface ConfigSource {
  args: readonly string[]
  env: Readonly<Record<string, string | undefined>>
  cwd: string
  /** Reads the config file; default node:fs readFileSync. Injected for tests. */
  readTextFile: (path: string) => string
}

export interface ParsedServerArgs {
  config: ServerConfig
  help: boolean
  /** Extra boolean flags a subcommand asked for (e.g. repair's --rebuild-index). */
  switches: Record<string, boolean>
}

const helpHint = 'run `cairn help server` for the list of flags'

/** Parse flags, env and config file into a validated ServerConfig. */
export function parseServerConfig(source: ConfigSource, extraSwitches: readonly string[] = []): ParsedServerArgs {
  const flagOptions: FlagOptions = { config: { type: 'string' }, help: { type: 'boolean', short: 'h' } }
  for (const name of optionNames) flagOptions[name] = { type: 'string' }
  for (const name of extraSwitches) flagOptions[name] = { type: 'boolean' }
  const { values } = parseFlags(source.args, flagOptions, { hint: helpHint })
  const switches: Record<string, boolean> = {}
  for (const name of extraSwitches) switches[name] = values[name] === true

  const configPathText = stringValue(values.config) ?? nonEmpty(source.env[configFileEnv])
  const configFile = configPathText === undefined ? undefined : resolve(source.cwd, configPathText)
  const fileValues = configFile === undefined ? {} : readConfigFile(configFile, source.readTextFile)

  const pick = (name: ServerOptionName): RawValue | undefined => {
    const spec: OptionSpec = serverOptionSpecs[name]
    const flag = stringValue(values[name])
    if (flag !== undefined) return { text: flag, origin: `--${name}`, baseDir: source.cwd }
    const fromEnv = nonEmpty(source.env[spec.env])
    if (fromEnv !== undefined) return { text: fromEnv, origin: spec.env, baseDir: source.cwd }
    const fromFile = fileValues[name]
    if (fromFile !== undefined) return { text: fromFile, origin: `"${name}" in ${configFile}`, baseDir: dirname(configFile ?? '.') }
    if (spec.defaultText !== undefined) return { text: spec.defaultText, origin: `default of --${name}`, baseDir: source.cwd }
    return undefined
  }

  const dataDir = pathOf(must(pick('data-dir')))
  const coldRaw = pick('cold-dir')
  const socketRaw = pick('nbd-socket')
  const tlsCertRaw = pick('s3-tls-cert')
  const tlsKeyRaw = pick('s3-tls-key')
  if ((tlsCertRaw === undefined) !== (tlsKeyRaw === undefined)) {
    throw new UsageError(`give both --s3-tls-cert and --s3-tls-key or neither; ${tlsCertRaw === undefined ? '--s3-tls-cert' : '--s3-tls-key'} is missing`)
  }
  const nbdTlsCertRaw = pick('nbd-tls-cert')
  const nbdTlsKeyRaw = pick('nbd-tls-key')
  if ((nbdTlsCertRaw === undefined) !== (nbdTlsKeyRaw === undefined)) {
    throw new UsageError(`give both --nbd-tls-cert and --nbd-tls-key or neither; ${nbdTlsCertRaw === undefined ? '--nbd-tls-cert' : '--nbd-tls-key'} is missing`)
  }
  const nfsLeaseMs = leaseSecondsOf(must(pick('nfs-lease-seconds'))) * 1000
  const nfsGraceRaw = pick('nfs-grace-seconds')
  const domainsRaw = pick('s3-domain')
  const regionRaw = pick('s3-region')
  const config: ServerConfig = {
    dataDir,
    coldDir: coldRaw === undefined ? resolve(dataDir, 'cold') : pathOf(coldRaw),
    s3Address: addressOf(must(pick('s3-address'))),
    s3TlsAddress: addressOf(must(pick('s3-tls-address'))),
    s3TlsCertPath: tlsCertRaw === undefined ? undefined : pathOf(tlsCertRaw),
    s3TlsKeyPath: tlsKeyRaw === undefined ? undefined : pathOf(tlsKeyRaw),
    s3Domains: domainsRaw === undefined ? [] : domainsOf(domainsRaw),
    s3Region: regionRaw === undefined ? undefined : regionOf(regionRaw),
    adminAddress: addressOf(must(pick('admin-address'))),
    nbdAddress: addressOf(must(pick('nbd-address'))),
    nbdSocket: socketRaw === undefined ? undefined : pathOf(socketRaw),
    nbdTlsCertPath: nbdTlsCertRaw === undefined ? undefined : pathOf(nbdTlsCertRaw),
    nbdTlsKeyPath: nbdTlsKeyRaw === undefined ? undefined : pathOf(nbdTlsKeyRaw),
    nfsAddress: addressOf(must(pick('nfs-address'))),
    nfsLeaseMs,
    nfsGraceMs: nfsGraceRaw === undefined ? nfsLeaseMs : secondsOf(nfsGraceRaw) * 1000,
    gcGraceMs: secondsOf(must(pick('gc-grace-seconds'))) * 1000,
    maintenanceIntervalMs: secondsOf(must(pick('maintenance-interval-seconds'))) * 1000,
    scrubIntervalMs: secondsOf(must(pick('scrub-interval-seconds'))) * 1000,
    lifecycleDayMs: positiveSecondsOf(must(pick('lifecycle-day-seconds'))) * 1000,
    lifecycleIntervalMs: positiveSecondsOf(must(pick('lifecycle-interval-seconds'))) * 1000,
    restoreDelaysMs: {
      Expedited: secondsOf(must(pick('restore-expedited-seconds'))) * 1000,
      Standard: secondsOf(must(pick('restore-standard-seconds'))) * 1000,
      Bulk: secondsOf(must(pick('restore-bulk-seconds'))) * 1000,
    },
    logLevel: logLevelOf(must(pick('log-level'))),
    configFile,
    rootAccessKeyText: nonEmpty(source.env.CAIRN_ROOT_ACCESS_KEY),
    rootSecretKeyText: nonEmpty(source.env.CAIRN_ROOT_SECRET_KEY),
    masterKeyText: nonEmpty(source.env.CAIRN_MASTER_KEY),
    previousMasterKeyText: nonEmpty(source.env.CAIRN_PREVIOUS_MASTER_KEY),
  }
  checkListenersDistinct(config)
  return { config, help: values.help === true, switches }
}

/** Every TCP listener as [option name, address], for logging and conflict checks. */
export function tcpListeners(config: ServerConfig): Array<[ServerOptionName, Address]> {
  return [
    ['admin-address', config.adminAddress],
    ['s3-address', config.s3Address],
    ['s3-tls-address', config.s3TlsAddress],
    ['nbd-address', config.nbdAddress],
    ['nfs-address', config.nfsAddress],
  ]
}

/** Parse an option value of kind 'size' ("10GiB"), for options and subcommands that take sizes. */
export function sizeOption(text: string, origin: string): number {
  try {
    return parseSize(text)
  } catch (error) {
    if (isStoreError(error, 'INVALID_ARGUMENT')) throw new UsageError(`${origin}: ${error.message}`, { cause: error })
    throw error
  }
}

/** The flag list for `cairn help server`, generated from the specs so it cannot drift. */
export function serverFlagsHelp(): string {
  const rows = optionNames.map((name) => {
    const spec: OptionSpec = serverOptionSpecs[name]
    const shownDefault = spec.defaultText === undefined ? '' : ` (default ${spec.defaultText})`
    return [`--${name} ${spec.placeholder}`, `${spec.help}${shownDefault}; env ${spec.env}`]
  })
  rows.unshift(['--config PATH', `JSON config file; env ${configFileEnv}`])
  const width = Math.max(...rows.map(([flag]) => (flag ?? '').length))
  return rows.map(([flag, text]) => `  ${(flag ?? '').padEnd(width)}  ${text}`).join('\n')
}

interface RawValue {
  text: string
  /** Where the value came from, for error messages. */
  origin: string
  /** Relative paths resolve against this (cwd, or the config file's directory). */
  baseDir: string
}

function pathOf(raw: RawValue): string {
  if (raw.text.includes('\0')) throw new UsageError(`${raw.origin}: a path cannot contain NUL bytes`)
  return isAbsolute(raw.text) ? resolve(raw.text) : resolve(raw.baseDir, raw.text)
}

function addressOf(raw: RawValue): Address {
  return parseAddress(raw.text, raw.origin)
}

/** 's3.example.com,s3.local' -> lowercase hostnames (virtual-host base domains). */
function domainsOf(raw: RawValue): string[] {
  const domains = raw.text.split(',').map((domain) => domain.trim().toLowerCase().replace(/\.$/, '')).filter((domain) => domain !== '')
  for (const domain of domains) {
    if (!/^(?=.{1,253}$)[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*$/.test(domain)) {
      throw new UsageError(`${raw.origin}: "${domain}" is not a domain name (e.g. s3.example.com)`)
    }
  }
  if (domains.length === 0) throw new UsageError(`${raw.origin}: give at least one domain name`)
  return domains
}

function regionOf(raw: RawValue): string {
  const region = raw.text.trim()
  if (!/^[a-z0-9-]{1,64}$/.test(region)) throw new UsageError(`${raw.origin}: "${raw.text}" is not a region name (e.g. us-east-1)`)
  return region
}

function secondsOf(raw: RawValue): number {
  const seconds = Number(raw.text)
  if (!/^\d+$/.test(raw.text.trim()) || !Number.isSafeInteger(seconds) || seconds > 10 * 365 * 24 * 3600) {
    throw new UsageError(`${raw.origin}: "${raw.text}" is not a whole number of seconds (0 to 10 years)`)
  }
  return seconds
}

function positiveSecondsOf(raw: RawValue): number {
  const seconds = secondsOf(raw)
  if (seconds === 0) throw new UsageError(`${raw.origin}: must be at least 1 second`)
  return seconds
}

function leaseSecondsOf(raw: RawValue): number {
  const seconds = secondsOf(raw)
  if (seconds * 1000 < nfsLimits.leaseMsMin) throw new UsageError(`${raw.origin}: must be at least ${nfsLimits.leaseMsMin / 1000} second(s)`)
  return seconds
}

function logLevelOf(raw: RawValue): LogLevel {
  if (!isLogLevel(raw.text)) throw new UsageError(`${raw.origin}: "${raw.text}" is not a log level (${logLevels.join(', ')})`)
  return raw.text
}

function checkListenersDistinct(config: ServerConfig): void {
  const listeners = tcpListeners(config)
  for (const [index, [name, address]] of listeners.entries()) {
    for (const [otherName, other] of listeners.slice(index + 1)) {
      if (addressesConflict(address, other)) {
        throw new UsageError(`--${name} and --${otherName} both use ${formatAddress(address)}; give each listener its own port`)
      }
    }
  }
}

/** Read the JSON config file: an object whose keys are flag names; values strings (numbers allowed). */
function readConfigFile(path: string, readTextFile: (path: string) => string): Partial<Record<ServerOptionName, string>> {
  let text: string
  try {
    text = readTextFile(path)
  } catch (error) {
    const code = (error as { code?: unknown }).code
    throw new UsageError(`config file ${path}: cannot read it (${typeof code === 'string' ? code : String(error)})`, { cause: error })
  }
  let parsed: unknown
  try {
    parsed = JSON.parse(text)
  } catch (error) {
    throw new UsageError(`config file ${path}: not valid JSON (${(error as Error).message})`, { cause: error })
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new UsageError(`config file ${path}: must hold one JSON object, e.g. {"data-dir": "/var/lib/cairn"}`)
  }
  const result: Partial<Record<ServerOptionName, string>> = {}
  for (const [name, value] of Object.entries(parsed)) {
    if (!(optionNames as string[]).includes(name)) {
      throw new UsageError(`config file ${path}: unknown key "${name}" (keys are flag names: ${optionNames.join(', ')})`)
    }
    if (typeof value === 'number' && Number.isFinite(value)) {
      result[name as ServerOptionName] = String(value)
    } else if (typeof value === 'string') {
      result[name as ServerOptionName] = value
    } else {
      throw new UsageError(`config file ${path}: "${name}" must be a string`)
    }
  }
  return result
}

function stringValue(value: string | boolean | undefined): string | undefined {
  return typeof value === 'string' ? value : undefined
}

/** Empty environment variables count as unset (the usual shell idiom `CAIRN_X= cairn ...`). */
function nonEmpty(text: string | undefined): string | undefined {
  return text === undefined || text === '' ? undefined : text
}

function must<T>(value: T | undefined): T {
  // Only options with a defaultText reach here; a missing one is a bug in the spec table.
  if (value === undefined) throw new TypeError('server option without a default')
  return value
}
