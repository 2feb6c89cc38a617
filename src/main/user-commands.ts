// `cairn user create NAME | list | delete NAME`: S3 users through a running server's admin API
// (src/admin/users.ts), with the endpoint and credential rules of the other client commands.
// `create` prints the new access key and secret once, with the environment lines S3 clients
// read; the secret cannot be shown again. --json for scripts.
// Exit codes: 0 done, 1 the server said no or could not be reached, 2 usage.
import type { JsonValue } from '../admin/index.ts'
import { adminTarget, callAdmin, clientOptionsHelp, CommandFailed, type CommandContext } from './client-commands.ts'
import { parseFlags } from './flags.ts'
import { UsageError } from './usage-error.ts'

export const userHelp = `Usage: cairn user <action> [arguments] [options]

Actions:
  create NAME        create an S3 user; prints its access key and secret (shown once)
  list               list users and their access key ids
  delete NAME        delete a user and its access keys (it must own no buckets)

Options:
${clientOptionsHelp}
`

function field(value: JsonValue, name: string): JsonValue | undefined {
  return value !== null && typeof value === 'object' && !Array.isArray(value) ? value[name] : undefined
}

export async function runUserCommand(args: readonly string[], context: CommandContext): Promise<number> {
  const [action, ...rest] = args
  const { values, positionals } = parseFlags(rest, { endpoint: { type: 'string' }, 'data-dir': { type: 'string' }, json: { type: 'boolean' } }, { positionals: true, hint: 'run `cairn help user`' })
  const expected = action === 'list' ? 0 : 1
  if (action !== 'create' && action !== 'list' && action !== 'delete') throw new UsageError(action === undefined ? 'say what to do: create, list or delete' : `unknown action "${action}"`, { hint: 'run `cairn help user`' })
  if (positionals.length !== expected) throw new UsageError(expected === 0 ? `user list takes no arguments` : `user ${action} takes one NAME`, { hint: 'run `cairn help user`' })
  const target = await adminTarget(values, context)
  const name = positionals[0] ?? ''
  const request =
    action === 'create'
      ? { method: 'POST' as const, path: '/admin/v1/users', body: { name } }
      : action === 'list'
        ? { method: 'GET' as const, path: '/admin/v1/users' }
        : { method: 'DELETE' as const, path: `/admin/v1/users/${encodeURIComponent(name)}` }
  let body: JsonValue
  try {
    body = await callAdmin(target, 'user', request)
  } catch (error) {
    if (!(error instanceof CommandFailed)) throw error
    context.stderr.write(`cairn user ${action}: ${error.message}\n`)
    return 1
  }
  const json = values.json === true
  if (json) {
    context.stdout.write(`${JSON.stringify(body ?? { deleted: name }, null, 2)}\n`)
    return 0
  }
  context.stdout.write(render(action, name, body))
  return 0
}

function render(action: 'create' | 'list' | 'delete', name: string, body: JsonValue): string {
  if (action === 'delete') return `deleted user ${name}\n`
  if (action === 'create') {
    const accessKeyId = String(field(body, 'accessKeyId'))
    const secretKey = String(field(body, 'secretKey'))
    return [
      `created user ${name}`,
      `access key id: ${accessKeyId}`,
      `secret key:    ${secretKey}   (shown once; store it now)`,
      '',
      'For S3 clients:',
      `  export AWS_ACCESS_KEY_ID=${accessKeyId}`,
      `  export AWS_SECRET_ACCESS_KEY=${secretKey}`,
      '',
    ].join('\n')
  }
  const users = field(body, 'users')
  if (!Array.isArray(users) || users.length === 0) return '(no users)\n'
  const rows = [['NAME', 'USER ID', 'ACCESS KEYS', 'CREATED']]
  for (const user of users) {
    const keys = field(user, 'accessKeyIds')
    rows.push([String(field(user, 'name')), String(field(user, 'userId')), Array.isArray(keys) ? keys.join(',') : '', new Date(Number(field(user, 'createdMs'))).toISOString()])
  }
  const widths = rows[0]!.map((_, column) => Math.max(...rows.map((row) => row[column]!.length)))
  return rows.map((row) => row.map((cell, column) => cell.padEnd(widths[column]!)).join('  ').trimEnd()).join('\n') + '\n'
}
