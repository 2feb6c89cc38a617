// aws CLI v1 (the first `aws` on PATH; recent botocore with default CRC32 checksums) against the
// real server. Scenario: native-tests/fixtures/s3-awscli.ts.
import { spawnSync } from 'node:child_process'
import t from 'tap'
import { awsCliScenario } from './fixtures/s3-awscli.ts'

const version = spawnSync('aws', ['--version'], { encoding: 'utf8' })
const text = `${version.stdout ?? ''}${version.stderr ?? ''}`
const skip = version.status === 0 && /aws-cli\/1\./.test(text) ? false : `no aws CLI v1 first on PATH (${text.trim() || 'aws not found'})`
t.test('aws CLI v1', { skip }, async (t) => awsCliScenario(t, 'aws', 'v1'))
