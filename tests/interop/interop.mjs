// interop.mjs — nostr-tools (npm) against our events, keys and NIP-44 payloads
//
// SPDX-License-Identifier: GPL-3.0-or-later
//
//   node tests/interop/interop.mjs --pt BUILD/tests/interop/pt-nostr-interop \
//        --modules tests/relay/node_modules
//
// Started by pt-nostr-interop (the meson test), which skips it without node
// or nostr-tools. Drives `pt-nostr-interop serve` (our engine) over JSON
// lines and checks, with nostr-tools:
//   - keys: same public key, npub and nsec from the same secret;
//   - events we sign: nostr-tools computes the same id and accepts the
//     signature, for awkward contents and tags;
//   - events nostr-tools signs: we accept them as they are, and as other JSON
//     writers put them, and refuse them altered (content, time, kind, tags,
//     pubkey, id, signature); U+0000 and lone surrogates are refused;
//   - NIP-44 v2: same conversation key; payloads decrypt both ways, for
//     lengths 1..65535 across the padding boundaries, with equal sizes and
//     checksums; altered payloads are refused both ways.
// Prints TAP. Every request and the whole run are bounded in time.

import { spawn } from 'node:child_process'
import { createHash, randomBytes, randomInt, webcrypto } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { isDeepStrictEqual } from 'node:util'
import { pathToFileURL } from 'node:url'

// Node 18 has no global crypto; the @noble packages need getRandomValues.
globalThis.crypto ??= webcrypto

const REQUEST_TIMEOUT_MS = 30000
const RUN_TIMEOUT_MS = 120000

function argument (name) {
  const i = process.argv.indexOf(name)
  if (i < 0 || i + 1 >= process.argv.length) {
    console.log(`Bail out! usage: node interop.mjs --pt PROGRAM --modules NODE_MODULES (no ${name})`)
    process.exit(2)
  }
  return process.argv[i + 1]
}

const ptPath = argument('--pt')
const modules = argument('--modules')

// nostr-tools from tests/relay/node_modules, by its ESM entry point (its CJS
// build needs require() of ES modules, which node 18 lacks).
const toolsDir = join(modules, 'nostr-tools')
const toolsPackage = JSON.parse(readFileSync(join(toolsDir, 'package.json'), 'utf8'))
const tools = await import(pathToFileURL(join(toolsDir, toolsPackage.exports['.'].import)).href)
const nip44 = tools.nip44.v2

/* ---------------------------------------------------------------------- */
/* TAP */

let count = 0
let failures = 0

function report (ok, name, diagnostic) {
  count++
  name = name.replace(/[#\n]/g, ' ')
  console.log(`${ok ? 'ok' : 'not ok'} ${count} - ${name}`)
  if (!ok) {
    failures++
    for (const line of String(diagnostic ?? '').split('\n')) console.log(`# ${line}`)
  }
}

// Runs one test: fn returns a list of problems (empty when it passed) or throws.
async function test (name, fn) {
  try {
    const problems = await fn()
    report(problems.length === 0, name, problems.join('\n'))
  } catch (error) {
    report(false, name, error.stack ?? error)
  }
}

function expect (problems, ok, what) {
  if (!ok) problems.push(what)
}

function expectEqual (problems, actual, expected, what) {
  if (!isDeepStrictEqual(actual, expected))
    problems.push(`${what}: got ${JSON.stringify(actual)}, expected ${JSON.stringify(expected)}`)
}

/* ---------------------------------------------------------------------- */
/* pt-nostr-interop serve */

class Pt {
  constructor (path) {
    this.child = spawn(path, ['serve'], { stdio: ['pipe', 'pipe', 'inherit'] })
    this.buffered = []
    this.waiting = null
    this.gone = null
    this.exited = new Promise(resolve => {
      this.child.on('exit', (code, signal) => {
        this.gone = new Error(`pt-nostr-interop exited (${signal ?? code})`)
        this.waiting?.reject(this.gone)
        resolve({ code, signal })
      })
    })
    this.child.on('error', error => { this.gone = error; this.waiting?.reject(error) })
    this.child.stdin.on('error', () => {})  // EPIPE once it is gone: reported above
    this.child.stdout.on('data', chunk => this.receive(chunk))
  }

  // Answers are one line each; a line may come in several chunks.
  receive (chunk) {
    let start = 0
    for (let nl = chunk.indexOf(10); nl >= 0; nl = chunk.indexOf(10, start)) {
      this.buffered.push(chunk.subarray(start, nl))
      const line = Buffer.concat(this.buffered).toString('utf8')
      this.buffered = []
      start = nl + 1
      const waiting = this.waiting
      this.waiting = null
      if (waiting) waiting.resolve(line)
      else console.log(`# unexpected line from pt-nostr-interop: ${line.slice(0, 200)}`)
    }
    if (start < chunk.length) this.buffered.push(chunk.subarray(start))
  }

  request (message) {
    return new Promise((resolve, reject) => {
      if (this.gone) {
        reject(this.gone)
        return
      }
      const timer = setTimeout(() => {
        this.waiting = null
        reject(new Error(`no answer to “${message.op}” in ${REQUEST_TIMEOUT_MS} ms`))
      }, REQUEST_TIMEOUT_MS)
      this.waiting = {
        resolve: line => { clearTimeout(timer); resolve(JSON.parse(line)) },
        reject: error => { clearTimeout(timer); reject(error) },
      }
      this.child.stdin.write(JSON.stringify(message) + '\n')
    })
  }

  // Like request, but a refusal throws.
  async call (message) {
    const answer = await this.request(message)
    if (answer.ok !== true)
      throw new Error(`pt refused “${message.op}”: ${answer.code}: ${answer.message}`)
    return answer
  }

  async close () {
    this.child.stdin.end()
    let timer
    const timeout = new Promise(resolve => { timer = setTimeout(resolve, REQUEST_TIMEOUT_MS, null) })
    const result = await Promise.race([this.exited, timeout])
    clearTimeout(timer)
    if (result === null) this.child.kill('SIGKILL')
    return result
  }
}

/* ---------------------------------------------------------------------- */
/* Data */

const hex = bytes => Buffer.from(bytes).toString('hex')
const sha256 = data => createHash('sha256').update(data).digest('hex')

// Characters of 1 to 4 UTF-8 bytes, including every kind that JSON escapes.
const ALPHABET = [
  'a', 'Z', '0', ' ', '"', '\\', '/', '\n', '\r', '\t', '\b', '\f', '\u0001', '\u001f', '\u007f',
  'é', 'ф', '\u00a0', '\u2028', '\u2029', '€', '日', '\ufeff', '\ufffd', '🦄', '👍', '𝄞',
]

// A random string of exactly @bytes bytes of UTF-8. Never starting with
// U+FEFF: nostr-tools' NIP-44 decrypt drops a leading one (TextDecoder takes
// it for a byte order mark); a test below shows that on its own.
function randomText (bytes) {
  let text = ''
  let left = bytes
  while (left > 0) {
    const c = ALPHABET[randomInt(ALPHABET.length)]
    const size = Buffer.byteLength(c)
    if (size > left || (text === '' && c === '\ufeff')) continue
    text += c
    left -= size
  }
  return text
}

// A random string with no control characters (for long event contents).
function randomPrintable (chars) {
  const printable = ALPHABET.filter(c => c.codePointAt(0) >= 0x20 && c !== '\u007f')
  let text = ''
  for (let i = 0; i < chars; i++) text += printable[randomInt(printable.length)]
  return text
}

const PEER = hex(randomBytes(32))

const eventCases = [
  { note: 'plain ASCII', content: 'hello, world', tags: [] },
  { note: 'empty content, no tags', content: '', tags: [] },
  { note: 'quotes and backslashes', content: 'say "hi" \\ \\\\ \\" "\\n"', tags: [['q', '"\\', '\\"']] },
  { note: 'named escapes', content: 'a\nb\rc\td\be\ff\r\n', tags: [['n', 'x\ny']] },
  {
    note: 'other control characters',
    content: Array.from({ length: 31 }, (_, i) => String.fromCharCode(i + 1)).join('') + '\u007f',
    tags: [['c', '\u001b[0m']],
  },
  { note: 'non-ASCII text', content: 'é ü ß ф 日本語 \u00a0 \u2028 \u2029 \ufeff \ufffd', tags: [['u', '日本']] },
  { note: 'emoji', content: '🦄 👍🏽 🏳️‍🌈 👨‍👩‍👧 𝄞', tags: [['e', '🦄', '👍🏽']] },
  { note: 'html and slashes', content: '</script><b>&amp;</b> a/b \\/', tags: [] },
  {
    note: 'many tags',
    content: 'tags',
    tags: [['p', PEER], ['e', PEER, 'wss://relay.invalid', 'reply'], ['t'], ['t', ''], ['expiration', '1700000600']],
  },
  {
    note: 'our kind and a JSON payload',
    kind: 21059,
    content: JSON.stringify({ type: 'request', session: 'abc', candidates: ['a=candidate:1 1 UDP 2122 192.0.2.1 5000 typ host'] }),
    tags: [['p', PEER]],
  },
  { note: 'kind 0, created_at 0', kind: 0, created_at: 0, content: 'k0', tags: [] },
  { note: 'kind 65535, created_at 2^32', kind: 65535, created_at: 4294967296, content: 'big', tags: [] },
  { note: 'long content', content: randomPrintable(20000), tags: [['l', 'long']] },
  { note: 'random text with every escape', content: randomText(3000), tags: [['r', randomText(100)]] },
]

function template (c, index) {
  return {
    kind: c.kind ?? 1,
    created_at: c.created_at ?? 1700000000 + index,
    tags: c.tags,
    content: c.content,
  }
}

const EVENT_FIELDS = ['id', 'pubkey', 'created_at', 'kind', 'tags', 'content', 'sig']

function plainEvent (event) {
  return Object.fromEntries(EVENT_FIELDS.map(k => [k, event[k]]))
}

// Ways to alter a signed event, each with the refusal we expect from pt.
const alterations = [
  { note: 'content', code: 'bad-id', alter: e => { e.content += '.' } },
  { note: 'created_at', code: 'bad-id', alter: e => { e.created_at += 1 } },
  { note: 'kind', code: 'bad-id', alter: e => { e.kind = e.kind === 1 ? 2 : 1 } },
  { note: 'tags', code: 'bad-id', alter: e => { e.tags = [...e.tags, ['x']] } },
  {
    note: 'id recomputed after content',
    code: 'bad-signature',
    alter: e => { e.content += '.'; e.id = tools.getEventHash(e) },
  },
  {
    note: 'another pubkey, id recomputed',
    code: 'bad-signature',
    alter: e => { e.pubkey = tools.getPublicKey(tools.generateSecretKey()); e.id = tools.getEventHash(e) },
  },
  { note: 'one bit of the signature', code: 'bad-signature', alter: e => { e.sig = flipHex(e.sig, 70) } },
  { note: 'one bit of the id', code: 'bad-id', alter: e => { e.id = flipHex(e.id, 3) } },
]

function flipHex (text, at) {
  const digit = (parseInt(text[at], 16) ^ 1).toString(16)
  return text.slice(0, at) + digit + text.slice(at + 1)
}

// NIP-44 v2 pads to 32 bytes up to 256, then to an eighth of the next power of two.
const NIP44_LENGTHS = [
  1, 2, 16, 31, 32, 33, 63, 64, 65, 96, 97, 128, 129, 224, 225, 256, 257, 320, 321, 384, 385, 512, 513,
  1024, 1025, 2048, 2049, 4096, 4097, 8192, 8193, 16384, 16385, 32768, 32769, 40000, 57344, 57345,
  61440, 61441, 65534, 65535,
]

/* ---------------------------------------------------------------------- */

const deadline = setTimeout(() => {
  console.log(`Bail out! interop.mjs ran for more than ${RUN_TIMEOUT_MS / 1000} s`)
  pt.child.kill('SIGKILL')
  process.exit(1)
}, RUN_TIMEOUT_MS)

console.log(`# nostr-tools ${toolsPackage.version} on node ${process.version}`)
const pt = new Pt(ptPath)

await test('keys: same public key, npub and nsec from the same secret', async () => {
  const problems = []
  const n = 0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141n
  const secrets = [1n, 2n, 3n, n - 1n, n / 2n].map(s => Buffer.from(s.toString(16).padStart(64, '0'), 'hex'))
  for (let i = 0; i < 20; i++) secrets.push(tools.generateSecretKey())
  for (const secret of secrets) {
    const answer = await pt.call({ op: 'pubkey', secret: hex(secret) })
    const pubkey = tools.getPublicKey(secret)
    expectEqual(problems, answer.pubkey, pubkey, `pubkey of ${hex(secret)}`)
    expectEqual(problems, answer.npub, tools.nip19.npubEncode(pubkey), `npub of ${hex(secret)}`)
    expectEqual(problems, answer.nsec, tools.nip19.nsecEncode(secret), `nsec of ${hex(secret)}`)
  }
  return problems
})

for (const [i, c] of eventCases.entries()) {
  await test(`events: nostr-tools accepts what pt signs: ${c.note}`, async () => {
    const problems = []
    const secret = tools.generateSecretKey()
    const answer = await pt.call({ op: 'sign', secret: hex(secret), ...template(c, i) })
    const event = answer.event
    expectEqual(problems, tools.verifyEvent(structuredClone(event)), true, 'verifyEvent')
    expectEqual(problems, tools.getEventHash(event), event.id, 'id')
    expectEqual(problems, event.pubkey, tools.getPublicKey(secret), 'pubkey')
    expectEqual(problems, event.content, c.content, 'content')
    expectEqual(problems, event.tags, c.tags, 'tags')
    // The same event signed by nostr-tools has the same id (signatures are randomized).
    expectEqual(problems, tools.finalizeEvent(template(c, i), secret).id, event.id, 'id nostr-tools gives it')
    // And nostr-tools does check: altered, it is refused.
    const altered = structuredClone(event)
    altered.content += '.'
    expectEqual(problems, tools.verifyEvent(altered), false, 'verifyEvent of an altered event')
    return problems
  })
}

for (const [i, c] of eventCases.entries()) {
  await test(`events: pt accepts what nostr-tools signs, refuses it altered: ${c.note}`, async () => {
    const problems = []
    const event = plainEvent(tools.finalizeEvent(template(c, i), tools.generateSecretKey()))
    const text = JSON.stringify(event)
    const answer = await pt.call({ op: 'verify', event: text })
    expectEqual(problems, answer.event, event, 'the event as pt parsed it')
    for (const a of alterations) {
      const altered = structuredClone(event)
      a.alter(altered)
      const refusal = await pt.request({ op: 'verify', event: JSON.stringify(altered) })
      expectEqual(problems, [refusal.ok, refusal.code], [false, a.code], `altered ${a.note}`)
      expectEqual(problems, tools.verifyEvent(structuredClone(altered)), false, `nostr-tools, altered ${a.note}`)
    }
    return problems
  })
}

// The same event as other JSON writers put it: keys in another order, white
// space between tokens, every non-ASCII character and "/" escaped.
function otherJson (event) {
  const reordered = Object.fromEntries(Object.entries(event).reverse())
  return JSON.stringify(reordered, null, 2)
    .replace(/[\u007f-\uffff]/g, c => '\\u' + c.charCodeAt(0).toString(16).padStart(4, '0'))
    .replace(/\//g, '\\/')
}

await test('events: pt accepts nostr-tools events written by other JSON writers', async () => {
  const problems = []
  for (const [i, c] of eventCases.entries()) {
    const event = plainEvent(tools.finalizeEvent(template(c, i), tools.generateSecretKey()))
    const answer = await pt.request({ op: 'verify', event: otherJson(event) })
    expectEqual(problems, answer.event, event, `${c.note}: the event as pt parsed it`)
  }
  return problems
})

// Valid for nostr-tools, but not text we can hold: json-glib ends a string at
// U+0000, and a lone surrogate is no UTF-8. Refused, never misread.
await test('events: pt refuses events with U+0000 or a lone surrogate', async () => {
  const problems = []
  for (const content of ['a\u0000b', 'x\ud800y', '\udc00']) {
    const event = plainEvent(tools.finalizeEvent({ kind: 1, created_at: 1700000000, tags: [], content },
      tools.generateSecretKey()))
    expectEqual(problems, tools.verifyEvent(structuredClone(event)), true, `nostr-tools, ${JSON.stringify(content)}`)
    const answer = await pt.request({ op: 'verify', event: JSON.stringify(event) })
    expectEqual(problems, answer.ok, false, `pt, ${JSON.stringify(content)}`)
  }
  return problems
})

// Keys of both sides: A is ours, B is nostr-tools'.
const secretA = tools.generateSecretKey()
const secretB = tools.generateSecretKey()
const pubA = tools.getPublicKey(secretA)
const pubB = tools.getPublicKey(secretB)
const keyB = nip44.utils.getConversationKey(secretB, pubA)
const ptKeys = { secret: hex(secretA), peer: pubB }
console.log(`# NIP-44 keys: ours ${pubA}, nostr-tools' ${pubB}`)

await test('nip44: same conversation key from both sides', async () => {
  const problems = []
  const answer = await pt.call({ op: 'conversation-key', ...ptKeys })
  expectEqual(problems, answer.key, hex(keyB), 'conversation key')
  return problems
})

for (const length of NIP44_LENGTHS) {
  await test(`nip44: ${length} bytes, pt encrypts, nostr-tools decrypts`, async () => {
    const problems = []
    const text = randomText(length)
    const answer = await pt.call({ op: 'encrypt', ...ptKeys, plaintext: Buffer.from(text).toString('base64') })
    const decrypted = nip44.decrypt(answer.payload, keyB)
    expectEqual(problems, sha256(decrypted), sha256(text), 'checksum of the plaintext')
    expect(problems, decrypted === text, 'plaintext differs')
    expectEqual(problems, answer.payload.length, nip44.encrypt(text, keyB).length, 'payload length (padding)')
    return problems
  })

  await test(`nip44: ${length} bytes, nostr-tools encrypts, pt decrypts`, async () => {
    const problems = []
    const text = randomText(length)
    const payload = nip44.encrypt(text, keyB)
    const answer = await pt.call({ op: 'decrypt', ...ptKeys, payload })
    const decrypted = Buffer.from(answer.plaintext, 'base64')
    expectEqual(problems, decrypted.length, length, 'plaintext length')
    expectEqual(problems, sha256(decrypted), sha256(text), 'checksum of the plaintext')
    return problems
  })
}

// Not ours to fix, but worth knowing: NIP-44 plaintexts are bytes, and
// nostr-tools loses a leading U+FEFF (even in its own round trip); we keep it.
await test('nip44: a leading U+FEFF: pt keeps it, nostr-tools drops it', async () => {
  const problems = []
  const text = '\ufeff{"type":"offer"}'
  const answer = await pt.call({ op: 'decrypt', ...ptKeys, payload: nip44.encrypt(text, keyB) })
  expectEqual(problems, Buffer.from(answer.plaintext, 'base64').toString('hex'),
    Buffer.from(text).toString('hex'), 'pt decrypts every byte')
  const ours = await pt.call({ op: 'encrypt', ...ptKeys, plaintext: Buffer.from(text).toString('base64') })
  expectEqual(problems, nip44.decrypt(ours.payload, keyB), text.slice(1), 'nostr-tools drops the U+FEFF')
  return problems
})

await test('nip44: altered payloads are refused both ways', async () => {
  const problems = []
  const text = randomText(300)
  const theirs = nip44.encrypt(text, keyB)
  const ours = (await pt.call({ op: 'encrypt', ...ptKeys, plaintext: Buffer.from(text).toString('base64') })).payload
  // Base64 characters 1.. hold the nonce, then the ciphertext, then the MAC.
  for (const at of [2, 50, 100, theirs.length - 10]) {
    const swap = s => s.slice(0, at) + (s[at] === 'A' ? 'B' : 'A') + s.slice(at + 1)
    const refusal = await pt.request({ op: 'decrypt', ...ptKeys, payload: swap(theirs) })
    expectEqual(problems, [refusal.ok, refusal.code], [false, 'decrypt'], `pt, payload altered at ${at}`)
    let threw = false
    try { nip44.decrypt(swap(ours), keyB) } catch { threw = true }
    expect(problems, threw, `nostr-tools accepted our payload altered at ${at}`)
  }
  // Someone else's key: the MAC fails.
  const other = { secret: hex(tools.generateSecretKey()), peer: pubB }
  const refusal = await pt.request({ op: 'decrypt', ...other, payload: theirs })
  expectEqual(problems, [refusal.ok, refusal.code], [false, 'decrypt'], 'pt, another key')
  return problems
})

const exit = await pt.close()
report(exit !== null && exit.code === 0, 'pt-nostr-interop exits cleanly at the end of its input',
  exit === null ? 'it did not exit' : `exit ${exit.signal ?? exit.code}`)

clearTimeout(deadline)
console.log(`1..${count}`)
process.exitCode = failures === 0 ? 0 : 1
