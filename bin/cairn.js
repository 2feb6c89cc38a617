#!/usr/bin/env node
// The `cairn` command. Plain JavaScript that even an old Node can parse, so that running it
// with the wrong Node prints a clear message instead of a syntax error; Cairn itself is
// TypeScript run by Node >= 24's type stripping (src/main/cli.ts).
'use strict'

const major = Number(process.versions.node.split('.')[0])
if (!(major >= 24)) {
  process.stderr.write(
    'cairn needs Node.js 24 or newer; this is Node ' + process.versions.node + ' (' + process.execPath + ').\n' +
      'In a checkout, `npm ci` installs Node 24 into node_modules/.bin: run `npm start`, `npx cairn ...`,\n' +
      'or put node_modules/.bin first on PATH (export PATH="$PWD/node_modules/.bin:$PATH").\n',
  )
  process.exit(1)
}

import('../src/main/cli.ts').then(
  (cli) => cli.runMain(process.argv.slice(2)),
  (error) => {
    process.stderr.write('cairn: cannot load src/main/cli.ts: ' + (error && error.stack ? error.stack : String(error)) + '\n')
    process.exit(1)
  },
)
