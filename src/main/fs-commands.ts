// `cairn fs create|list|describe|modify|delete|lifecycle`: file systems through a running server's
// admin API (src/admin/filesystems.ts), with the endpoint and credential rules of the other
// client commands. Tables and the mount command for people, --json for scripts.
// Exit codes: 0 done, 1 the server said no or could not be reached, 2 usage.
import type { JsonValue } from '../admin/index.ts'
import { formatSize } from '../lib/index.ts'
import { adminTarget, callAdmin, clientOptionsHelp, CommandFailed, type CommandContext } from './client-commands.ts'
import { parseFlags, type FlagOptions } from './flags.ts'
import { renderTable } from './output.ts'
import { UsageError } from './usage-error.ts'

export const fsHelp = `Usage: cairn fs <action> [arguments] [options]

Actions:
  create NAME [policy flags] [--root-uid N] [--root-gid N] [--root-mode 0755]
  list
  describe NAME|ID            usage per storage class, export policy, the mount command
  modify NAME|ID [--name NEW] [policy flags]
  delete NAME|ID              the file system disappears at once; its data is freed in the background
  lifecycle NAME|ID           run the lifecycle (Infrequent Access) pass now

Policy flags:
  --read-only | --read-write               refuse (or allow) every change through NFS
  --root-squash | --no-root-squash         uid 0 becomes the anonymous uid/gid
  --anonymous-uid N  --anonymous-gid N     who squashed and AUTH_NONE callers are (default 65534)
  --allowed-clients CIDR[,CIDR...]         only these addresses may mount (default: all)
  --all-clients                            (modify) let every address mount again
  --ia-after-days N | --no-ia              move files not accessed for N days to Infrequent Access
  --standard-on-access | --no-standard-on-access   move an IA file back on its first access

Options:
${clientOptionsHelp}
`

const flagOptions: FlagOptions = {
  endpoint: { type: 'string' }, 'data-dir': { type: 'string' }, json: { type: 'boolean' },
  name: { type: 'string' },
  'read-only': { type: 'boolean' }, 'read-write': { type: 'boolean' },
  'root-squash': { type: 'boolean' }, 'no-root-squash': { type: 'boolean' },
  'anonymous-uid': { type: 'string' }, 'anonymous-gid': { type: 'string' },
  'allowed-clients': { type: 'string' }, 'all-clients': { type: 'boolean' },
  'ia-after-days': { type: 'string' }, 'no-ia': { type: 'boolean' },
  'standard-on-access': { type: 'boolean' }, 'no-standard-on-access': { type: 'boolean' },
  'root-uid': { type: 'string' }, 'root-gid': { type: 'string' }, 'root-mode': { type: 'string' },
}

type Values = Record<string, string | boolean | undefined>
type Body = { [key: string]: JsonValue }
const hint = 'run `cairn help fs`'

/** The server said no: printed as "cairn fs create: <message>", exit 1. */

function field(value: JsonValue | undefined, name: string): JsonValue | undefined {
  return value !== null && value !== undefined && typeof value === 'object' && !Array.isArray(value) ? value[name] : undefined
}

function integer(values: Values, name: string, radix: 8 | 10 = 10): number | undefined {
  const text = values[name] as string | undefined
  if (text === undefined) return undefined
  const pattern = radix === 8 ? /^0?[0-7]{1,4}$/ : /^\d+$/
  if (!pattern.test(text)) throw new UsageError(`--${name} must be ${radix === 8 ? 'an octal mode like 0755' : 'a whole number'}, got "${text}"`, { hint })
  return Number.parseInt(text, radix)
}

function choice(values: Values, yes: string, no: string): boolean | undefined {
  if (values[yes] === true && values[no] === true) throw new UsageError(`--${yes} and --${no} contradict each other`, { hint })
  return values[yes] === true ? true : values[no] === true ? false : undefined
}

function compact(body: Record<string, JsonValue | undefined>): Body {
  return Object.fromEntries(Object.entries(body).filter(([, value]) => value !== undefined)) as Body
}

function policyOf(values: Values): { exportPolicy?: Body; lifecycle?: Body } {
  const clients = values['allowed-clients'] as string | undefined
  if (clients !== undefined && values['all-clients'] === true) throw new UsageError('--allowed-clients and --all-clients contradict each other', { hint })
  const exportPolicy = compact({
    readOnly: choice(values, 'read-only', 'read-write'),
    rootSquash: choice(values, 'root-squash', 'no-root-squash'),
    anonymousUid: integer(values, 'anonymous-uid'),
    anonymousGid: integer(values, 'anonymous-gid'),
    allowedClients: values['all-clients'] === true ? [] : clients?.split(',').map((rule) => rule.trim()).filter((rule) => rule !== ''),
  })
  if (values['ia-after-days'] !== undefined && values['no-ia'] === true) throw new UsageError('--ia-after-days and --no-ia contradict each other', { hint })
  const lifecycle = compact({
    transitionToIaAfterDays: values['no-ia'] === true ? null : integer(values, 'ia-after-days'),
    transitionToStandardOnAccess: choice(values, 'standard-on-access', 'no-standard-on-access'),
  })
  return {
    ...(Object.keys(exportPolicy).length > 0 ? { exportPolicy } : {}),
    ...(Object.keys(lifecycle).length > 0 ? { lifecycle } : {}),
  }
}

interface Call {
  method: 'GET' | 'POST' | 'PATCH' | 'DELETE'
  path: string
  body?: JsonValue
}

function requestOf(action: string, positionals: string[], values: Values): Call {
  const expected = action === 'list' ? 0 : 1
  if (positionals.length !== expected) throw new UsageError(expected === 0 ? 'fs list takes no arguments' : `fs ${action} takes one NAME or ID`, { hint })
  const target = encodeURIComponent(positionals[0] ?? '')
  switch (action) {
    case 'create': {
      const rootDirectory = compact({ uid: integer(values, 'root-uid'), gid: integer(values, 'root-gid'), mode: integer(values, 'root-mode', 8) })
      return { method: 'POST', path: '/filesystems', body: { name: positionals[0] ?? '', ...policyOf(values), ...(Object.keys(rootDirectory).length > 0 ? { rootDirectory } : {}) } }
    }
    case 'list':
      return { method: 'GET', path: '/filesystems' }
    case 'describe':
      return { method: 'GET', path: `/filesystems/${target}` }
    case 'modify': {
      const body = compact({ name: values.name as string | undefined, ...policyOf(values) })
      if (Object.keys(body).length === 0) throw new UsageError('say what to change: --name or a policy flag', { hint })
      return { method: 'PATCH', path: `/filesystems/${target}`, body }
    }
    case 'delete':
      return { method: 'DELETE', path: `/filesystems/${target}` }
    case 'lifecycle':
      return { method: 'POST', path: `/filesystems/${target}/lifecycle` }
    default:
      throw new UsageError(`unknown action "${action}"`, { hint })
  }
}

export async function runFsCommand(args: readonly string[], context: CommandContext): Promise<number> {
  const [action, ...rest] = args
  if (action === undefined) throw new UsageError('say what to do: create, list, describe, modify, delete or lifecycle', { hint })
  const { values, positionals } = parseFlags(rest, flagOptions, { positionals: true, hint })
  const call = requestOf(action, positionals, values)
  if (action !== 'create' && ['root-uid', 'root-gid', 'root-mode'].some((name) => values[name] !== undefined)) {
    throw new UsageError('--root-uid, --root-gid and --root-mode apply to create only', { hint })
  }
  try {
    const body = await send(call, values, context)
    context.stdout.write(values.json === true ? `${JSON.stringify(body ?? { deleted: positionals[0] }, null, 2)}\n` : render(action, positionals[0] ?? '', body))
    return 0
  } catch (error) {
    if (!(error instanceof CommandFailed)) throw error
    context.stderr.write(`cairn fs ${action}: ${error.message}\n`)
    return 1
  }
}

async function send(call: Call, values: Values, context: CommandContext): Promise<JsonValue> {
  return callAdmin(await adminTarget(values, context), 'file system', { method: call.method, path: `/admin/v1${call.path}`, ...(call.body === undefined ? {} : { body: call.body }) })
}

function bytes(value: JsonValue | undefined): string {
  return typeof value === 'number' ? formatSize(value) : '-'
}

function render(action: string, name: string, body: JsonValue): string {
  if (action === 'delete') return `deleted file system ${name}\n`
  if (action === 'lifecycle') return renderTable(body)
  if (action === 'list') return renderList(field(body, 'fileSystems'))
  const { mount, ...rest } = body as { [key: string]: JsonValue }
  const command = field(mount, 'mountCommand')
  const heading = action === 'create' ? `created file system ${String(field(body, 'name'))} (${String(field(body, 'id'))})\n` : ''
  const mountLines = typeof command === 'string' ? `\nMount it (NFSv4.1):\n  ${command}\n` : ''
  return `${heading}${renderTable(rest)}${mountLines}`
}

function renderList(list: JsonValue | undefined): string {
  if (!Array.isArray(list) || list.length === 0) return 'no file systems\n'
  const rows = [['NAME', 'ID', 'FSID', 'EXPORT', 'FILES', 'STANDARD', 'INFREQUENT ACCESS', 'STORED']]
  for (const fs of list) {
    const policy = field(fs, 'exportPolicy')
    const usage = field(fs, 'usage')
    const clients = field(policy, 'allowedClients')
    const export_ = [field(policy, 'readOnly') === true ? 'ro' : 'rw', field(policy, 'rootSquash') === true ? 'root-squash' : '', Array.isArray(clients) && clients.length > 0 ? clients.join(',') : ''].filter((part) => part !== '').join(' ')
    rows.push([
      String(field(fs, 'name')), String(field(fs, 'id')), String(field(fs, 'number')), export_, String(field(usage, 'files') ?? '-'),
      bytes(field(field(usage, 'standard'), 'logicalBytes')), bytes(field(field(usage, 'infrequentAccess'), 'logicalBytes')), bytes(field(usage, 'storedBytes')),
    ])
  }
  const widths = rows[0]!.map((_, column) => Math.max(...rows.map((row) => row[column]!.length)))
  return rows.map((row) => row.map((cell, column) => cell.padEnd(widths[column]!)).join('  ').trimEnd()).join('\n') + '\n'
}
