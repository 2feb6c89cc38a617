// aws CLI v2 (Debian's awscli package, /usr/bin/aws) against the real server. Scenario:
// native-tests/fixtures/s3-awscli.ts.
import { spawnSync } from 'node:child_process'
import t from 'tap'
import { awsCliScenario } from './fixtures/s3-awscli.ts'

const aws = '/usr/bin/aws'
const version = spawnSync(aws, ['--version'], { encoding: 'utf8' })
const text = `${version.stdout ?? ''}${version.stderr ?? ''}`
const skip = version.status === 0 && /aws-cli\/2\./.test(text) ? false : `no aws CLI v2 at ${aws} (${text.trim() || 'not installed'}; apt-get install awscli)`
t.test('aws CLI v2', { skip }, async (t) => awsCliScenario(t, aws, 'v2'))
