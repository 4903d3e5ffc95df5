// garbage.mjs — a websocket server that answers like no Nostr relay should
//
// SPDX-License-Identifier: GPL-3.0-or-later
//
//   node tests/relay/garbage.mjs PORT      (0 = let the system pick one)
//
// Prints "listening PORT" on stdout when ready; exits when stdin closes. Each
// new connection gets the next kind of garbage, in turn: text that is not
// JSON, JSON that is not a relay message, a binary message, a frame with a
// reserved opcode, a deeply nested array, and an "OK" for a malformed id.

import { WebSocketServer } from 'ws';

const port = Number.parseInt(process.argv[2] ?? '0', 10);
const server = new WebSocketServer({ host: '127.0.0.1', port });
let count = 0;

const garbage = [
  ws => ws.send('this is not JSON {'),
  ws => ws.send('{"not":"an array"}'),
  ws => ws.send(Buffer.from([0x00, 0xff, 0x5b, 0x22]), { binary: true }),
  ws => ws._socket.write(Buffer.from([0x83, 0x02, 0x5b, 0x5d])),   // FIN + opcode 3
  ws => ws.send('['.repeat(5000) + ']'.repeat(5000)),
  ws => ws.send('["OK","XYZ",true,""]'),
];

server.on('connection', ws => {
  const send = garbage[count++ % garbage.length];
  ws.on('error', () => {});
  send(ws);
});

server.on('error', error => {
  console.error(`garbage: ${error.message}`);
  process.exit(1);
});

server.on('listening', () => {
  process.stdout.write(`listening ${server.address().port}\n`);
});

process.stdin.on('end', () => process.exit(0));
process.stdin.resume();
