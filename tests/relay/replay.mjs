// replay.mjs — an eavesdropper for PeerTunnel's tests: captures an event and replays it
//
// SPDX-License-Identifier: GPL-3.0-or-later
//
//   node tests/relay/replay.mjs CAPTURE_URL KIND [REPLAY_URL]
//
// Subscribes to events of KIND on the relay at CAPTURE_URL (prints
// "subscribed" once the relay has confirmed it) and prints "captured ID" for
// the first one. When a line "replay" arrives on stdin it sends that very
// event (same id, same signature) to REPLAY_URL (default: CAPTURE_URL; a
// relay drops an id it has seen, so a real replay goes to another relay the
// victim uses) and prints "replayed ID ACCEPTED MESSAGE" once that relay has
// answered. Exits when stdin closes.

import { createInterface } from 'node:readline';
import WebSocket from 'ws';

const [captureUrl, kindText, replayUrl] = process.argv.slice(2);
const kind = Number.parseInt(kindText ?? '', 10);
if (!captureUrl || !Number.isInteger(kind)) {
  console.error('usage: node replay.mjs CAPTURE_URL KIND [REPLAY_URL]');
  process.exit(2);
}

let captured = null;

function fail(error) {
  console.error(`relay: ${error.message}`);
  process.exit(1);
}

const capture = new WebSocket(captureUrl);
capture.on('open', () => capture.send(JSON.stringify(['REQ', 'eavesdrop', { kinds: [kind] }])));
capture.on('message', data => {
  const message = JSON.parse(data.toString('utf8'));
  if (message[0] === 'EOSE' && message[1] === 'eavesdrop')
    console.log('subscribed');
  else if (message[0] === 'EVENT' && message[1] === 'eavesdrop' && captured === null) {
    captured = message[2];
    console.log(`captured ${captured.id}`);
  }
});
capture.on('error', fail);

function replay() {
  const target = new WebSocket(replayUrl ?? captureUrl);
  target.on('open', () => target.send(JSON.stringify(['EVENT', captured])));
  target.on('message', data => {
    const message = JSON.parse(data.toString('utf8'));
    if (message[0] === 'OK' && message[1] === captured.id)
      console.log(`replayed ${captured.id} ${message[2]} ${message[3] ?? ''}`);
  });
  target.on('error', fail);
}

createInterface({ input: process.stdin }).on('line', line => {
  if (line.trim() === 'replay' && captured !== null)
    replay();
}).on('close', () => process.exit(0));
