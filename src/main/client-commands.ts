// Client subcommands: health, info, scrub, gc, compact. They reach a running server's admin API
// (--endpoint or CAIRN_ADMIN_URL) with the root credentials from CAIRN_ROOT_ACCESS_KEY /
// CAIRN_ROOT_SECRET_KEY, else from <data-dir>/root-credentials.json (--data-dir, CAIRN_DATA_DIR,
// or ./data when that file exists). Tables for people, --json for scripts.
// Exit codes: 0 done, 1 the server said no or could not be reached, 2 usage.
import { resolve } from 'node:path'
import { nodeIo } from '../io/index.ts'
import type { JsonValue } from '../admin/index.ts'
import { adminRequest, ClientError, defaultAdminUrl, parseEndpoint, type AdminRequest, type AdminResponse } from './client.ts'
import { credentialsFromEnv, readRootCredentialsFile, type RootCredentials } from './credentials.ts'
import { parseFlags } from './flags.ts'
import { renderTable } from './output.ts'
import { UsageError } from './usage-error.ts'

export interface CommandContext {
  env: Readonly<Record<string, string | undefined>>
  cwd: string
  stdout: { write(text: string): unknown }
  stderr: { write(text: string): unknown }
}

interface ClientCommand {
  method: 'GET' | 'POST'
  path: string
  authenticated: boolean
  /** Short timeout for quick questions; none for maintenance that may run for a long time. */
  idleTimeoutMs: number | undefined
}

export const clientCommands: Record<string, ClientCommand> = {
  health: { method: 'GET', path: '/health', authenticated: false, idleTimeoutMs: 10_000 },
  info: { method: 'GET', path: '/admin/v1/info', authenticated: true, idleTimeoutMs: 60_000 },
  scrub: { method: 'POST', path: '/admin/v1/scrub', authenticated: true, idleTimeoutMs: undefined },
  gc: { method: 'POST', path: '/admin/v1/gc', authenticated: true, idleTimeoutMs: undefined },
  compact: { method: 'POST', path: '/admin/v1/compact', authenticated: true, idleTimeoutMs: undefined },
}

export const clientOptionsHelp = [
  '  --endpoint URL   admin API of the server (env CAIRN_ADMIN_URL, default ' + defaultAdminUrl + ')',
  '  --data-dir DIR   read root credentials from DIR/root-credentials.json when',
  '                   CAIRN_ROOT_ACCESS_KEY / CAIRN_ROOT_SECRET_KEY are not set',
  '  --json           print JSON for scripts instead of a table',
].join('\n')

export async function runClientCommand(name: string, args: readonly string[], context: CommandContext): Promise<number> {
  const command = clientCommands[name]
  if (command === undefined) throw new TypeError(`not a client command: ${name}`)
  const { values } = parseFlags(args, { endpoint: { type: 'string' }, 'data-dir': { type: 'string' }, json: { type: 'boolean' } }, { hint: `run \`cairn help ${name}\`` })
  const endpointText = (values.endpoint as string | undefined) ?? nonEmpty(context.env.CAIRN_ADMIN_URL) ?? defaultAdminUrl
  const endpoint = parseEndpoint(endpointText, values.endpoint === undefined ? 'CAIRN_ADMIN_URL' : '--endpoint')
  const credentials = command.authenticated ? await clientCredentials(values['data-dir'] as string | undefined, context) : undefined
  let response: AdminResponse
  try {
    response = await adminRequest({ endpoint, method: command.method, path: command.path, credentials: credentials?.credentials, idleTimeoutMs: command.idleTimeoutMs })
  } catch (error) {
    if (!(error instanceof ClientError)) throw error
    context.stderr.write(`cairn ${name}: ${error.message}\n`)
    return 1
  }
  const json = values.json === true
  const ok = response.status >= 200 && response.status < 300
  if (ok || (name === 'health' && response.status === 503)) {
    context.stdout.write(json ? `${JSON.stringify(response.body, null, 2)}\n` : renderTable(response.body))
    return ok ? 0 : 1
  }
  context.stderr.write(`cairn ${name}: ${failureMessage(response, endpoint, credentials?.from)}\n`)
  if (json) context.stdout.write(`${JSON.stringify(response.body, null, 2)}\n`)
  return 1
}

function failureMessage(response: AdminResponse, endpoint: URL, credentialsFrom: string | undefined): string {
  const error = errorText(response.body)
  if (response.status === 401) return `the server at ${endpoint.origin} rejected the root credentials (from ${credentialsFrom ?? 'nowhere'})`
  if (response.status === 503 && error === 'not available yet') return 'not available yet in this server version'
  return `the server answered ${response.status}: ${error ?? JSON.stringify(response.body)}`
}

function errorText(body: JsonValue): string | undefined {
  if (body !== null && typeof body === 'object' && !Array.isArray(body) && typeof body.error === 'string') return body.error
  return undefined
}

/** An admin call of a CLI command failed: printed as "cairn <command> <action>: <message>", exit 1. */
export class CommandFailed extends Error {}

/** Where a client command sends its admin calls, and with which root credentials. */
export interface AdminTarget {
  endpoint: URL
  credentials: RootCredentials
  /** Where the credentials came from, for the message when the server rejects them. */
  from: string
}

/** --endpoint (or CAIRN_ADMIN_URL, or the default) and the root credentials (see clientCredentials). */
export async function adminTarget(values: { endpoint?: unknown; 'data-dir'?: unknown }, context: CommandContext): Promise<AdminTarget> {
  const endpointText = (values.endpoint as string | undefined) ?? nonEmpty(context.env.CAIRN_ADMIN_URL) ?? defaultAdminUrl
  const endpoint = parseEndpoint(endpointText, values.endpoint === undefined ? 'CAIRN_ADMIN_URL' : '--endpoint')
  const { credentials, from } = await clientCredentials(values['data-dir'] as string | undefined, context)
  return { endpoint, credentials, from }
}

/**
 * One admin call: the body of a 2xx answer, else CommandFailed with a message for a person (no
 * answer, rejected credentials, a server without this API (`api` names it), the server's error).
 */
export async function callAdmin(target: AdminTarget, api: string, request: { method: AdminRequest['method']; path: string; body?: JsonValue }): Promise<JsonValue> {
  let response: AdminResponse
  try {
    response = await adminRequest({ endpoint: target.endpoint, credentials: target.credentials, idleTimeoutMs: 120_000, ...request })
  } catch (error) {
    if (error instanceof ClientError) throw new CommandFailed(error.message, { cause: error })
    throw error
  }
  if (response.status >= 200 && response.status < 300) return response.body
  if (response.status === 401) throw new CommandFailed(`the server at ${target.endpoint.origin} rejected the root credentials (from ${target.from})`)
  const message = errorText(response.body)
  if (response.status === 404 && message === 'no such route') throw new CommandFailed(`this server has no ${api} API (is it an older version?)`)
  throw new CommandFailed(message ?? `the server answered ${response.status}: ${JSON.stringify(response.body)}`)
}

export async function clientCredentials(dataDirFlag: string | undefined, context: CommandContext): Promise<{ credentials: RootCredentials; from: string }> {
  const fromEnv = credentialsFromEnv(nonEmpty(context.env.CAIRN_ROOT_ACCESS_KEY), nonEmpty(context.env.CAIRN_ROOT_SECRET_KEY))
  if (fromEnv !== undefined) return { credentials: fromEnv, from: 'CAIRN_ROOT_ACCESS_KEY / CAIRN_ROOT_SECRET_KEY' }
  const explicitDir = dataDirFlag ?? nonEmpty(context.env.CAIRN_DATA_DIR)
  const dataDir = resolve(context.cwd, explicitDir ?? './data')
  const stored = await readRootCredentialsFile(nodeIo, dataDir)
  if (stored !== undefined) return { credentials: stored, from: `${dataDir}/root-credentials.json` }
  throw new UsageError(
    explicitDir === undefined
      ? 'no root credentials: set CAIRN_ROOT_ACCESS_KEY and CAIRN_ROOT_SECRET_KEY, or pass --data-dir of the server'
      : `no root credentials: ${dataDir}/root-credentials.json does not exist; set CAIRN_ROOT_ACCESS_KEY and CAIRN_ROOT_SECRET_KEY`,
  )
}

export function nonEmpty(text: string | undefined): string | undefined {
  return text === undefined || text === '' ? undefined : text
}
