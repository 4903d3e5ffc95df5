// publish.mjs — publishes one event, signed by nostr-tools, for PeerTunnel's tests
//
// SPDX-License-Identifier: GPL-3.0-or-later
//
//   node tests/relay/publish.mjs URL KIND P_HEX CONTENT_JSON
//
// Signs, with a key of its own made for this run, an event of KIND tagged
// ["p", P_HEX] whose content is the JSON string CONTENT_JSON: JSON, so that a
// test can pass what argv cannot carry, such as a lone surrogate ('"\udc00"'),
// which nostr-tools signs (JSON.stringify escapes it) and relays forward.
//
// It subscribes to what it publishes, sends the event and, once the relay has
// both accepted it ("OK" true) and sent it back to that subscription, prints
// "published ID" and exits 0. The relay writes an event to every matching
// subscription before it answers "OK", so by then the event is on its way to
// every other subscriber too. Exits 1 when the relay refuses the event or
// anything fails (within 10 s), 2 on bad usage.

import { webcrypto } from 'node:crypto';

import WebSocket from 'ws';

// @noble/hashes looks for WebCrypto when it loads; node 18 has no global one.
globalThis.crypto ??= webcrypto;
const { finalizeEvent, generateSecretKey } = await import('nostr-tools/pure');

const TIMEOUT_MS = 10000;

function fail(message, status = 1) {
  console.error(`publish: ${message}`);
  process.exit(status);
}

const [url, kindText, pHex, contentJson] = process.argv.slice(2);
const kind = Number.parseInt(kindText ?? '', 10);
let content;
try {
  content = JSON.parse(contentJson ?? '');
} catch {
  content = null;
}
if (!url || !Number.isInteger(kind) || !/^[0-9a-f]{64}$/.test(pHex ?? '') || typeof content !== 'string')
  fail('usage: node publish.mjs URL KIND P_HEX CONTENT_JSON (a JSON string)', 2);

const event = finalizeEvent({
  kind,
  created_at: Math.floor(Date.now() / 1000),
  tags: [['p', pHex]],
  content,
}, generateSecretKey());

let accepted = false;
let echoed = false;

const ws = new WebSocket(url);
setTimeout(() => fail(`no answer from ${url} within ${TIMEOUT_MS} ms ` +
                      `(accepted: ${accepted}, echoed: ${echoed})`), TIMEOUT_MS).unref();

ws.on('open', () => {
  ws.send(JSON.stringify(['REQ', 'publish', { kinds: [kind], '#p': [pHex] }]));
});
ws.on('message', data => {
  const message = JSON.parse(data.toString('utf8'));
  if (message[0] === 'EOSE' && message[1] === 'publish')
    ws.send(JSON.stringify(['EVENT', event]));
  else if (message[0] === 'OK' && message[1] === event.id) {
    if (message[2] !== true)
      fail(`${url} refused ${event.id}: ${message[3] ?? ''}`);
    accepted = true;
  } else if (message[0] === 'EVENT' && message[1] === 'publish' && message[2]?.id === event.id)
    echoed = true;
  if (accepted && echoed) {
    console.log(`published ${event.id}`);
    ws.close();
    process.exit(0);
  }
});
ws.on('error', error => fail(`${url}: ${error.message}`));
ws.on('close', () => fail(`${url} closed the connection`));
