// request-flood.mjs — a token guesser for PeerTunnel's tests: requests from fresh keys
//
// SPDX-License-Identifier: GPL-3.0-or-later
//
//   node tests/relay/request-flood.mjs URL SERVER_NPUB RATE OFFER_BASE64 TOKEN
//
// Publishes to the relay at URL, RATE times a second, a PeerTunnel tunnel
// request (docs/protocol.md, "Nostr rendezvous") addressed to the server key
// SERVER_NPUB, each one signed by a key of its own made for it (keys are free)
// and NIP-44-encrypted to the server like a real client's, carrying the offer
// block OFFER_BASE64 (the base64 text of a real offer) and the token TOKEN
// (a well-formed but wrong one). So every request reaches the server's token
// check, which is the point.
//
// Prints "flooding" once the relay has accepted the first request, and
// "sent N" every second after. Exits 1 when the relay refuses a request or
// the connection fails, 2 on bad usage, 0 when stdin closes.

import { webcrypto } from 'node:crypto';

import WebSocket from 'ws';

// @noble/hashes looks for WebCrypto when it loads; node 18 has no global one.
globalThis.crypto ??= webcrypto;
const { finalizeEvent, generateSecretKey } = await import('nostr-tools/pure');
const nip44 = await import('nostr-tools/nip44');
const nip19 = await import('nostr-tools/nip19');

const KIND = 25837;    // PT_RENDEZVOUS_KIND

function fail(message, status = 1) {
  console.error(`request-flood: ${message}`);
  process.exit(status);
}

const [url, serverNpub, rateText, offer, token] = process.argv.slice(2);
const rate = Number.parseInt(rateText ?? '', 10);
let serverHex = null;
try {
  const decoded = nip19.decode(serverNpub ?? '');
  if (decoded.type === 'npub')
    serverHex = decoded.data;
} catch {
  serverHex = null;
}
if (!url || serverHex === null || !Number.isInteger(rate) || rate < 1 || rate > 1000 ||
    !/^[A-Za-z0-9+/=]+$/.test(offer ?? '') || !token)
  fail('usage: node request-flood.mjs URL SERVER_NPUB RATE(1-1000) OFFER_BASE64 TOKEN', 2);

const plaintext = JSON.stringify({ v: 1, type: 'request', signal: offer, token });

function request() {
  const key = generateSecretKey();
  const content = nip44.encrypt(plaintext, nip44.getConversationKey(key, serverHex));
  return finalizeEvent({
    kind: KIND,
    created_at: Math.floor(Date.now() / 1000),
    tags: [['p', serverHex]],
    content,
  }, key);
}

let sent = 0;
let announced = false;

const ws = new WebSocket(url);
ws.on('open', () => {
  setInterval(() => {
    ws.send(JSON.stringify(['EVENT', request()]));
    sent++;
  }, Math.max(1, Math.floor(1000 / rate)));
  setInterval(() => console.log(`sent ${sent}`), 1000);
});
ws.on('message', data => {
  const message = JSON.parse(data.toString('utf8'));
  if (message[0] !== 'OK')
    return;
  if (message[2] !== true)
    fail(`the relay refused a request: ${message[3]}`);
  if (!announced) {
    announced = true;
    console.log('flooding');
  }
});
ws.on('error', error => fail(error.message));
ws.on('close', () => fail('the relay closed the connection'));

process.stdin.on('end', () => process.exit(0));
process.stdin.resume();
