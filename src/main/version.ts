// The version of this Cairn, from package.json (read once at load; the file ships with the code).
import { readFileSync } from 'node:fs'

const packageJson = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version?: unknown }

export const cairnVersion: string = typeof packageJson.version === 'string' ? packageJson.version : '0.0.0'
