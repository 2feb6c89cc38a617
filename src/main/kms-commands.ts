// `cairn kms create-key | list-keys | describe-key | disable-key | enable-key | rotate`: the
// built-in KMS's customer managed keys through a running server's admin API (src/admin/kms.ts),
// with the endpoint and credential rules of the other client commands. Keys are named by id,
// ARN or alias. Tables for people, --json for scripts.
// Exit codes: 0 done, 1 the server said no or could not be reached, 2 usage.
import type { JsonValue } from '../admin/index.ts'
import { adminTarget, callAdmin, clientOptionsHelp, CommandFailed, type CommandContext } from './client-commands.ts'
import { parseFlags } from './flags.ts'
import { UsageError } from './usage-error.ts'

export const kmsHelp = `Usage: cairn kms <action> [arguments] [options]

Actions:
  create-key [--description TEXT] [--alias NAME]   create a customer managed key (SSE-KMS)
  list-keys                                        list keys with their state and aliases
  describe-key KEY                                 show one key (KEY: id, ARN or alias/NAME)
  disable-key KEY                                  objects under KEY become unreadable (400 KMS.DisabledException)
  enable-key KEY                                   make them readable again
  rotate KEY                                       new key material for new objects; old ones stay readable

Use a key with S3 clients:
  aws s3 cp FILE s3://BUCKET/KEY --sse aws:kms --sse-kms-key-id alias/NAME

Options:
${clientOptionsHelp}
`

const actions = ['create-key', 'list-keys', 'describe-key', 'disable-key', 'enable-key', 'rotate'] as const
type KmsAction = (typeof actions)[number]

function field(value: JsonValue | undefined, name: string): JsonValue | undefined {
  return value !== null && value !== undefined && typeof value === 'object' && !Array.isArray(value) ? value[name] : undefined
}

function requestFor(action: KmsAction, key: string, values: Record<string, unknown>): { method: 'GET' | 'POST'; path: string; body?: Record<string, string> } {
  const path = `/admin/v1/kms/keys/${encodeURIComponent(key)}`
  switch (action) {
    case 'create-key': {
      const description = values.description as string | undefined
      const alias = values.alias as string | undefined
      return { method: 'POST', path: '/admin/v1/kms/keys', body: { ...(description === undefined ? {} : { description }), ...(alias === undefined ? {} : { alias }) } }
    }
    case 'list-keys':
      return { method: 'GET', path: '/admin/v1/kms/keys' }
    case 'describe-key':
      return { method: 'GET', path }
    case 'disable-key':
      return { method: 'POST', path: `${path}/disable`, body: {} }
    case 'enable-key':
      return { method: 'POST', path: `${path}/enable`, body: {} }
    case 'rotate':
      return { method: 'POST', path: `${path}/rotate`, body: {} }
  }
}

export async function runKmsCommand(args: readonly string[], context: CommandContext): Promise<number> {
  const [actionText, ...rest] = args
  const hint = { hint: 'run `cairn help kms`' }
  if (!actions.includes(actionText as KmsAction)) {
    throw new UsageError(actionText === undefined ? `say what to do: ${actions.join(', ')}` : `unknown action "${actionText}"`, hint)
  }
  const action = actionText as KmsAction
  const flagOptions = {
    endpoint: { type: 'string' as const }, 'data-dir': { type: 'string' as const }, json: { type: 'boolean' as const },
    ...(action === 'create-key' ? { description: { type: 'string' as const }, alias: { type: 'string' as const } } : {}),
  }
  const { values, positionals } = parseFlags(rest, flagOptions, { positionals: true, ...hint })
  const takesKey = action !== 'create-key' && action !== 'list-keys'
  if (positionals.length !== (takesKey ? 1 : 0)) throw new UsageError(takesKey ? `kms ${action} takes one KEY (id, ARN or alias/NAME)` : `kms ${action} takes no arguments`, hint)
  const target = await adminTarget(values, context)
  let body: JsonValue
  try {
    body = await callAdmin(target, 'KMS', requestFor(action, positionals[0] ?? '', values))
  } catch (error) {
    if (!(error instanceof CommandFailed)) throw error
    context.stderr.write(`cairn kms ${action}: ${error.message}\n`)
    return 1
  }
  if (values.json === true) {
    context.stdout.write(`${JSON.stringify(body, null, 2)}\n`)
    return 0
  }
  context.stdout.write(action === 'list-keys' ? renderKeys(field(body, 'keys')) : renderKey(action, body))
  return 0
}

const headline: Record<Exclude<KmsAction, 'list-keys'>, string> = {
  'create-key': 'created key',
  'describe-key': 'key',
  'disable-key': 'disabled key',
  'enable-key': 'enabled key',
  rotate: 'rotated key',
}

function dateOf(value: JsonValue | undefined): string {
  return typeof value === 'number' ? new Date(value).toISOString() : ''
}

function listOf(value: JsonValue | undefined): string {
  return Array.isArray(value) && value.length > 0 ? value.join(', ') : '-'
}

function renderKey(action: Exclude<KmsAction, 'list-keys'>, body: JsonValue): string {
  const generations = field(body, 'generations')
  const rows: Array<[string, string]> = [
    ['key id', String(field(body, 'keyId'))],
    ['arn', String(field(body, 'arn'))],
    ['state', String(field(body, 'state'))],
    ['aliases', listOf(field(body, 'aliases'))],
    ['description', String(field(body, 'description') ?? '') || '-'],
    ['created', dateOf(field(body, 'createdMs'))],
    ...(field(body, 'stateChangedMs') === undefined ? [] : [['state changed', dateOf(field(body, 'stateChangedMs'))] as [string, string]]),
    ['generation', `${String(field(body, 'currentGeneration'))} of ${Array.isArray(generations) ? generations.length : '?'}` + (Array.isArray(generations) && generations.length > 1 ? ` (rotated ${dateOf(field(generations.at(-1), 'createdMs'))})` : '')],
  ]
  const width = Math.max(...rows.map(([name]) => name.length))
  return `${headline[action]} ${String(field(body, 'keyId'))}\n` + rows.map(([name, text]) => `  ${name.padEnd(width)}  ${text}`).join('\n') + '\n'
}

function renderKeys(keys: JsonValue | undefined): string {
  if (!Array.isArray(keys) || keys.length === 0) return '(no keys)\n'
  const rows = [['KEY ID', 'STATE', 'ALIASES', 'GENERATION', 'CREATED', 'DESCRIPTION']]
  for (const key of keys) {
    rows.push([String(field(key, 'keyId')), String(field(key, 'state')), listOf(field(key, 'aliases')), String(field(key, 'currentGeneration')), dateOf(field(key, 'createdMs')), String(field(key, 'description') ?? '')])
  }
  const widths = rows[0]!.map((_, column) => Math.max(...rows.map((row) => row[column]!.length)))
  return rows.map((row) => row.map((cell, column) => cell.padEnd(widths[column]!)).join('  ').trimEnd()).join('\n') + '\n'
}
