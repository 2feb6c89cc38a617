// Command-line flag parsing over node:util parseArgs, with parse failures turned into
// UsageError (exit 2) instead of the TypeError parseArgs throws: a mistyped flag is the
// user's mistake, never a bug.
import { parseArgs, type ParseArgsConfig } from 'node:util'
import { UsageError } from './usage-error.ts'

export type FlagOptions = NonNullable<ParseArgsConfig['options']>

export interface ParsedFlags {
  values: Record<string, string | boolean | undefined>
  positionals: string[]
}

export function parseFlags(
  args: readonly string[],
  options: FlagOptions,
  settings: { positionals?: boolean; hint: string },
): ParsedFlags {
  try {
    const parsed = parseArgs({ args: [...args], options, strict: true, allowPositionals: settings.positionals ?? false })
    return { values: parsed.values as ParsedFlags['values'], positionals: parsed.positionals }
  } catch (error) {
    const code = (error as { code?: unknown }).code
    if (typeof code === 'string' && code.startsWith('ERR_PARSE_ARGS_')) {
      throw new UsageError(firstLine((error as Error).message), { hint: settings.hint, cause: error })
    }
    throw error
  }
}

/** parseArgs messages carry advice for `--` that does not apply here; keep the first sentence line. */
function firstLine(message: string): string {
  return message.split('\n')[0] ?? message
}
