// flood.mjs — a hostile relay for PeerTunnel's tests: floods every subscriber
//
// SPDX-License-Identifier: GPL-3.0-or-later
//
//   node tests/relay/flood.mjs PORT MODE [COUNT [--on-go]]      (PORT 0 = any)
//
// A websocket server on 127.0.0.1 that answers each subscription (REQ) with
// EOSE and then COUNT (default 200000) EVENT messages for it, as fast as the
// socket takes them, all matching the subscription's first filter (its first
// kind, its first "#p" key), so that only a signature check could tell them
// from wanted ones. MODE:
//
//   same      one event, signed by a key made for this run, sent again and
//             again byte for byte (the attack of issue 12, item 2)
//   respaced  that same event, each copy with different white space, so no
//             two messages are equal byte for byte
//   forged    a new event each time, with a correct id but a signature that
//             does not verify (costs a check each, unless limited)
//
// With --on-go it answers EOSE at once but holds the flood back until a line
// "go" arrives on stdin (so that a tunnel can come up first).
//
// Prints "listening PORT" once clients can connect, "flooding SUB_ID" when
// it starts on a subscription, "done SENT" once all COUNT are out, and "gone
// SENT" when a subscriber disconnects (SENT: messages handed to the socket
// until then). Exits when stdin closes.

import { webcrypto } from 'node:crypto';

import { WebSocketServer } from 'ws';

// @noble/hashes looks for WebCrypto when it loads; node 18 has no global one.
globalThis.crypto ??= webcrypto;
const { finalizeEvent, generateSecretKey, getEventHash, getPublicKey } = await import('nostr-tools/pure');

const MODES = ['same', 'respaced', 'forged'];
const port = Number.parseInt(process.argv[2] ?? '', 10);
const mode = process.argv[3];
const count = Number.parseInt(process.argv[4] ?? '200000', 10);
const onGo = process.argv[5] === '--on-go';
if (!Number.isInteger(port) || port < 0 || port > 65535 || !MODES.includes(mode) ||
    !Number.isInteger(count) || count < 1 || (process.argv.length > 5 && !onGo)) {
  console.error(`usage: node flood.mjs PORT ${MODES.join('|')} [COUNT [--on-go]]`);
  process.exit(2);
}

// Floods held back until "go" (--on-go), or null once it came.
let held = onGo ? [] : null;

const key = generateSecretKey();
const pubkey = getPublicKey(key);
// Some 64 bytes that are not a signature of anything here.
const badSig = 'ab'.repeat(64);

function eventFor(filter, n) {
  const kind = Array.isArray(filter.kinds) && filter.kinds.length > 0 ? filter.kinds[0] : 1;
  const tags = Array.isArray(filter['#p']) && filter['#p'].length > 0 ? [['p', filter['#p'][0]]] : [];
  const created_at = Math.floor(Date.now() / 1000);
  if (mode === 'forged') {
    // A correct id over new contents, and a signature that does not verify.
    const event = { kind, created_at, tags, content: `forged ${n} ${Math.random()}`, pubkey };
    event.id = getEventHash(event);
    event.sig = badSig;
    return event;
  }
  return finalizeEvent({ kind, created_at, tags, content: 'the same event, again' }, key);
}

function messageFor(subId, filter, n) {
  switch (mode) {
    case 'same':
      return JSON.stringify(['EVENT', subId, eventFor(filter, 0)]);
    case 'respaced':
      return '[' + ' '.repeat(n % 1000) + '"EVENT",' + ' '.repeat(Math.floor(n / 1000)) +
        JSON.stringify(subId) + ',' + JSON.stringify(eventFor.cached ??= eventFor(filter, 0)) + ']';
    case 'forged':
      return JSON.stringify(['EVENT', subId, eventFor(filter, n)]);
  }
  return null;
}

const server = new WebSocketServer({ host: '127.0.0.1', port });
server.on('listening', () => console.log(`listening ${server.address().port}`));
server.on('error', error => {
  console.error(`flood: ${error.message}`);
  process.exit(1);
});
server.on('connection', ws => {
  let sent = 0;
  let open = true;
  let same = null;

  ws.on('close', () => {
    open = false;
    console.log(`gone ${sent}`);
  });
  ws.on('error', () => {});
  ws.on('message', data => {
    let message;
    try {
      message = JSON.parse(data.toString('utf8'));
    } catch {
      return;
    }
    if (!Array.isArray(message) || message[0] !== 'REQ' || typeof message[1] !== 'string')
      return;
    const subId = message[1];
    const filter = typeof message[2] === 'object' && message[2] !== null ? message[2] : {};
    ws.send(JSON.stringify(['EOSE', subId]));
    if (mode === 'same')
      same = messageFor(subId, filter, 0);
    const burst = () => {
      // Keep a few MiB in flight, and let node see the socket close now and
      // then: as fast as the peer reads, no faster.
      for (let i = 0; i < 1000 && open && sent < count && ws.bufferedAmount < 4 * 1024 * 1024; i++) {
        ws.send(same ?? messageFor(subId, filter, sent));
        sent++;
      }
      if (open && sent < count)
        setTimeout(burst, ws.bufferedAmount < 4 * 1024 * 1024 ? 0 : 1);
      else if (open)
        console.log(`done ${sent}`);
    };
    const start = () => {
      console.log(`flooding ${subId}`);
      burst();
    };
    if (held !== null)
      held.push(start);
    else
      start();
  });
});

// A test may read only the "listening" line and close the pipe: the flood
// goes on regardless.
process.stdout.on('error', () => {});
process.stdin.on('data', data => {
  if (held !== null && data.toString('utf8').split('\n').includes('go')) {
    const starts = held;
    held = null;
    starts.forEach(start => start());
  }
});
process.stdin.on('end', () => process.exit(0));
process.stdin.resume();
