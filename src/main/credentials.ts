// Root credentials: the one access key / secret pair that can do everything (admin API now,
// S3 later). From CAIRN_ROOT_ACCESS_KEY / CAIRN_ROOT_SECRET_KEY when set (both or neither),
// else generated on first start and kept in <data-dir>/root-credentials.json (mode 0600).
//
// Invariants: the secret is written to the terminal exactly once, when it is generated, and
// never to the log. The file is replaced atomically (writeFileAtomic), so a crash during
// first start leaves either no file (regenerate) or a complete one. Generation happens only
// while the caller holds the data-dir lock, so two first starts cannot race.
import { join } from 'node:path'
import { StoreError, type Clock, type Random } from '../lib/index.ts'
import { readSmallFile, writeFileAtomic, type Io } from '../io/index.ts'
import { UsageError } from './usage-error.ts'

export interface RootCredentials {
  readonly accessKey: string
  readonly secretKey: string
}

export type CredentialsSource = 'env' | 'file' | 'generated'

export const rootCredentialsFileName = 'root-credentials.json'
const fileFormatVersion = 1

const upperAlphanumeric = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789'
const alphanumeric = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789'
const accessKeyPattern = /^[A-Za-z0-9._~-]{3,128}$/
const secretKeyPattern = /^[\x21-\x7e]{8,128}$/

/** Validate the environment pair; undefined when neither is set. Throws UsageError otherwise. */
export function credentialsFromEnv(accessKeyText: string | undefined, secretKeyText: string | undefined): RootCredentials | undefined {
  if (accessKeyText === undefined && secretKeyText === undefined) return undefined
  if (accessKeyText === undefined || secretKeyText === undefined) {
    const missing = accessKeyText === undefined ? 'CAIRN_ROOT_ACCESS_KEY' : 'CAIRN_ROOT_SECRET_KEY'
    throw new UsageError(`set both CAIRN_ROOT_ACCESS_KEY and CAIRN_ROOT_SECRET_KEY or neither; ${missing} is missing`)
  }
  checkCredentials({ accessKey: accessKeyText, secretKey: secretKeyText }, (message) => new UsageError(`CAIRN_ROOT_${message}`))
  return { accessKey: accessKeyText, secretKey: secretKeyText }
}

/** AWS-shaped: 20-character upper-case access key, 40-character secret (about 238 bits). */
export function generateRootCredentials(random: Random): RootCredentials {
  return { accessKey: randomString(random, upperAlphanumeric, 20), secretKey: randomString(random, alphanumeric, 40) }
}

export interface LoadRootCredentialsOptions {
  io: Io
  dataDir: string
  /** Already validated by credentialsFromEnv. */
  fromEnv: RootCredentials | undefined
  random: Random
  clock: Clock
}

export interface LoadedRootCredentials {
  credentials: RootCredentials
  source: CredentialsSource
  path: string
}

/** Env pair if given; else the stored file; else generate, store (0600) and report 'generated'. */
export async function loadRootCredentials(options: LoadRootCredentialsOptions): Promise<LoadedRootCredentials> {
  const path = join(options.dataDir, rootCredentialsFileName)
  if (options.fromEnv !== undefined) return { credentials: options.fromEnv, source: 'env', path }
  const stored = await readRootCredentialsFile(options.io, options.dataDir)
  if (stored !== undefined) return { credentials: stored, source: 'file', path }
  const credentials = generateRootCredentials(options.random)
  const record = { formatVersion: fileFormatVersion, ...credentials, createdAt: new Date(options.clock.nowMs()).toISOString() }
  await writeFileAtomic(options.io, path, Buffer.from(`${JSON.stringify(record, null, 2)}\n`), 0o600)
  return { credentials, source: 'generated', path }
}

/** The stored credentials, or undefined when the file does not exist. Used by the CLI too. */
export async function readRootCredentialsFile(io: Io, dataDir: string): Promise<RootCredentials | undefined> {
  const path = join(dataDir, rootCredentialsFileName)
  const bytes = await readSmallFile(io, path)
  if (bytes === undefined) return undefined
  const invalid = (why: string): StoreError =>
    new StoreError('INVALID_ARGUMENT', `${path} is not a valid credentials file (${why}); repair it or remove it to generate new credentials`)
  let record: unknown
  try {
    record = JSON.parse(bytes.toString('utf8'))
  } catch {
    throw invalid('not JSON')
  }
  const { formatVersion, accessKey, secretKey } = (record ?? {}) as Record<string, unknown>
  if (formatVersion !== fileFormatVersion) throw invalid(`formatVersion ${String(formatVersion)}, expected ${fileFormatVersion}`)
  if (typeof accessKey !== 'string' || typeof secretKey !== 'string') throw invalid('accessKey or secretKey missing')
  const credentials = { accessKey, secretKey }
  checkCredentials(credentials, (message) => invalid(message))
  return credentials
}

/** The once-only announcement of generated credentials, for a person at a terminal. */
export function formatCredentialsAnnouncement(credentials: RootCredentials, path: string): string {
  return [
    '',
    '================ Cairn root credentials (shown once) ================',
    `  access key: ${credentials.accessKey}`,
    `  secret key: ${credentials.secretKey}`,
    `  stored in:  ${path} (mode 0600)`,
    '  Use them for the admin API and the cairn CLI:',
    `    export CAIRN_ROOT_ACCESS_KEY=${credentials.accessKey}`,
    `    export CAIRN_ROOT_SECRET_KEY=${credentials.secretKey}`,
    '=====================================================================',
    '',
  ].join('\n')
}

function checkCredentials(credentials: RootCredentials, fail: (message: string) => Error): void {
  if (!accessKeyPattern.test(credentials.accessKey)) {
    throw fail('ACCESS_KEY must be 3 to 128 characters from A-Z a-z 0-9 . _ ~ -')
  }
  if (!secretKeyPattern.test(credentials.secretKey)) {
    throw fail('SECRET_KEY must be 8 to 128 printable ASCII characters without spaces')
  }
}

/** Uniform characters from alphabet by rejection sampling (no modulo bias). */
function randomString(random: Random, alphabet: string, length: number): string {
  const limit = 256 - (256 % alphabet.length)
  let text = ''
  while (text.length < length) {
    for (const byte of random.bytes(length * 2)) {
      if (byte < limit && text.length < length) text += alphabet[byte % alphabet.length]
    }
  }
  return text
}
