// READDIR of a large directory: every entry exactly once across replies that fit maxcount, and
// the files layer is asked for about as many entries as go out (not limit / 64 of them, most of
// which were read and decoded for nothing).
import t from 'tap'
import type { Caller, DirectoryPage, ReadDirectoryOptions } from '../../files/api.ts'
import { startHarness } from '../testing/harness.ts'
import { ops } from '../testing/nfs-client.ts'
import { attr } from './constants.ts'

const root: Caller = { uid: 0, gid: 0, gids: [] }
/** What the Linux client asks for `ls -l`. */
const listAttributes = [
  attr.TYPE, attr.CHANGE, attr.SIZE, attr.FSID, attr.RDATTR_ERROR, attr.FILEHANDLE, attr.FILEID, attr.MODE, attr.NUMLINKS,
  attr.OWNER, attr.OWNER_GROUP, attr.RAWDEV, attr.SPACE_USED, attr.TIME_ACCESS, attr.TIME_METADATA, attr.TIME_MODIFY, attr.MOUNTED_ON_FILEID,
]

t.test('a 64 KiB READDIR of a 1,500-entry directory asks the files layer for about what it sends', async (t) => {
  const h = await startHarness(t)
  const [exported] = await h.files.listFileSystems()
  const created = await h.files.create(root, exported!.rootHandle, 'big', { type: 'directory', mode: 0o755 })
  const names = Array.from({ length: 1500 }, (_, index) => `file-with-a-longer-name-${index}`)
  for (const name of names) await h.files.create(root, created.handle, name, { type: 'regular', mode: 0o644, how: { mode: 'unchecked' } })
  const asked: number[] = []
  const readDirectory = h.files.readDirectory.bind(h.files)
  h.files.readDirectory = async (caller: Caller, directory, options: ReadDirectoryOptions): Promise<DirectoryPage> => {
    const page = await readDirectory(caller, directory, options)
    asked.push(page.entries.length)
    return page
  }
  const client = await h.connect(1)
  await client.establish()
  const [, , big] = (await client.ok([ops.putrootfh(), ops.lookup(exported!.name), ops.lookup('big'), ops.getfh()])).slice(1) as [unknown, unknown, Buffer]
  const seen: string[] = []
  let cookie = 0n
  let verifier: Buffer = Buffer.alloc(8)
  let replies = 0
  const maxcount = 64 * 1024
  for (;;) {
    const reply = await client.compound([ops.putfh(big), ops.readdir(cookie, verifier, maxcount, listAttributes)])
    const page = reply.results[2]?.value as { verifier: Buffer; entries: Array<{ cookie: bigint; name: string }>; eof: boolean }
    seen.push(...page.entries.map((entry) => entry.name))
    replies += 1
    if (page.eof) break
    t.ok(page.entries.length > 100, `a full reply carries many entries (${page.entries.length})`)
    cookie = page.entries.at(-1)!.cookie
    verifier = page.verifier
  }
  t.same([...seen].sort(), [...names].sort(), 'every entry exactly once')
  const fetched = asked.reduce((sum, count) => sum + count, 0)
  t.ok(replies >= 4, `several 64 KiB replies (${replies})`)
  // Each reply may read a few entries past what fits (the one that did not fit, a guess's slack).
  t.ok(fetched <= names.length * 1.25 + 16 * replies, `entries read from the files layer (${fetched}) stay close to the ${names.length} sent`)
})
