// gen-nostr-events.mjs — regenerates tests/data/nostr-events.json with nostr-tools
//
// SPDX-License-Identifier: GPL-3.0-or-later
//
// Run once, by hand, when the cases change (the output is committed; the
// tests do not need node):
//   cd /tmp && npm install nostr-tools
//   NODE_PATH=/tmp/node_modules node tests/data/gen-nostr-events.mjs > tests/data/nostr-events.json
// Each event is signed by nostr-tools; the C tests recompute its id from the
// fields and verify its signature, and decode/encode its keys as NIP-19.
import { createRequire } from 'node:module'
const require = createRequire(process.env.NODE_PATH + '/')
const { finalizeEvent, getPublicKey, nip19 } = require('nostr-tools')
const { readFileSync } = require('node:fs')
const toolsVersion = JSON.parse(readFileSync(process.env.NODE_PATH + '/nostr-tools/package.json')).version

const hex = (b) => Buffer.from(b).toString('hex')
const sk = (n) => Uint8Array.from(Buffer.from(n.toString(16).padStart(64, '0'), 'hex'))

const cases = [
  { note: 'plain text', content: 'hello', tags: [] },
  { note: 'empty content, tags', content: '', tags: [['p', 'ab'], ['t', 'x', 'y', '']] },
  { note: 'NIP-01 named escapes', content: 'a\nb"c\\d\re\tf\bg\fh', tags: [['e', 'q"\\\n']] },
  { note: 'other control characters', content: '\u0001\u001f\u000b\u007f', tags: [['c', '\u001e']] },
  { note: 'non-ASCII', content: 'é ü ф 🦄 \u2028 \u2029 \ufeff', tags: [['u', '日本']] },
  { note: 'slash and html', content: '</script> & <b>', tags: [] },
  { note: 'ephemeral kind, large time', content: 'x', tags: [['p', '00']], kind: 29999, created_at: 4102444800 },
]

const events = cases.map((c, i) => {
  const key = sk(0x1000 + i * 7919)
  const event = finalizeEvent({
    kind: c.kind ?? 1,
    created_at: c.created_at ?? 1700000000 + i,
    tags: c.tags,
    content: c.content,
  }, key)
  return {
    note: c.note,
    secret_key: hex(key),
    nsec: nip19.nsecEncode(key),
    npub: nip19.npubEncode(getPublicKey(key)),
    event,
  }
})

console.log(JSON.stringify({
  generator: 'nostr-tools ' + toolsVersion + ' (tests/data/gen-nostr-events.mjs)',
  events,
}, null, 1))
