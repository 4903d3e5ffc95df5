// relay.mjs — a real Nostr relay for PeerTunnel's tests, on loopback only
//
// SPDX-License-Identifier: GPL-3.0-or-later
//
//   node tests/relay/relay.mjs PORT        (0 = let the system pick one)
//   node tests/relay/relay.mjs PORT --tls CERT.pem KEY.pem
//
// The second form serves wss:// with that certificate and private key (PEM
// files, such as a test's throwaway self-signed pair) and is otherwise the same.
//
// Prints "listening PORT" on stdout once clients can connect, and exits when
// its stdin closes (so a test that dies cannot leave it behind) or on
// SIGTERM/SIGINT. @nostr-relay/core does the protocol (it verifies ids and
// signatures and broadcasts ephemeral kinds); events live in memory here.
//
// @nostr-relay/core 0.0.40 matches live events against kinds, authors, ids
// and since/until only, not against tag filters such as "#p": each client's
// outgoing EVENT messages pass through matchesTags() below so that this relay
// behaves like the public ones the pool talks to.

import { readFileSync } from 'node:fs';
import { createServer } from 'node:https';

import { NostrRelay } from '@nostr-relay/core';
import { EventRepository, EventUtils, EventType } from '@nostr-relay/common';
import { WebSocketServer } from 'ws';

const MAX_EVENTS = 10000;

function matchesTags(event, filter) {
  for (const [key, values] of Object.entries(filter)) {
    if (!key.startsWith('#') || key.length !== 2 || !Array.isArray(values)) continue;
    const name = key.slice(1);
    if (!event.tags.some(tag => tag[0] === name && values.includes(tag[1]))) return false;
  }
  return true;
}

function matches(event, filter) {
  return EventUtils.isMatchingFilter(event, filter) && matchesTags(event, filter);
}

class MemoryEventRepository extends EventRepository {
  constructor() {
    super();
    this.events = new Map();   // id → event, oldest first
  }

  isSearchSupported() {
    return false;
  }

  upsert(event) {
    if (this.events.has(event.id)) return { isDuplicate: true };
    const type = EventUtils.getType(event.kind);
    if (type === EventType.REPLACEABLE || type === EventType.PARAMETERIZED_REPLACEABLE) {
      const d = type === EventType.PARAMETERIZED_REPLACEABLE ? EventUtils.extractDTagValue(event) : null;
      for (const [id, old] of this.events) {
        if (old.kind !== event.kind || old.pubkey !== event.pubkey) continue;
        if (d !== null && EventUtils.extractDTagValue(old) !== d) continue;
        if (old.created_at > event.created_at) return { isDuplicate: true };
        this.events.delete(id);
      }
    }
    this.events.set(event.id, event);
    if (this.events.size > MAX_EVENTS) this.events.delete(this.events.keys().next().value);
    return { isDuplicate: false };
  }

  find(filter) {
    const found = [...this.events.values()]
      .filter(event => matches(event, filter))
      .sort((a, b) => b.created_at - a.created_at);
    return typeof filter.limit === 'number' ? found.slice(0, filter.limit) : found;
  }

  async destroy() {
    this.events.clear();
  }
}

// What @nostr-relay/core sees as the client: the socket, with EVENT messages
// that break a tag filter of their subscription held back.
class FilteringClient {
  constructor(ws) {
    this.ws = ws;
    this.subscriptions = new Map();   // sub_id → filters
  }

  get readyState() {
    return this.ws.readyState;
  }

  send(text) {
    const message = JSON.parse(text);
    if (message[0] === 'EVENT') {
      const filters = this.subscriptions.get(message[1]);
      if (filters && !filters.some(filter => matchesTags(message[2], filter))) return;
    }
    this.ws.send(text);
  }
}

function isValidMessage(message) {
  if (!Array.isArray(message) || typeof message[0] !== 'string') return false;
  switch (message[0]) {
    case 'EVENT':
      return message.length === 2 && typeof message[1] === 'object' && message[1] !== null &&
        typeof message[1].id === 'string' && typeof message[1].pubkey === 'string' &&
        typeof message[1].sig === 'string' && Number.isInteger(message[1].kind) &&
        Number.isInteger(message[1].created_at) && Array.isArray(message[1].tags) &&
        typeof message[1].content === 'string';
    case 'REQ':
      return message.length >= 3 && typeof message[1] === 'string' &&
        message.slice(2).every(f => typeof f === 'object' && f !== null && !Array.isArray(f));
    case 'CLOSE':
      return message.length === 2 && typeof message[1] === 'string';
    default:
      return false;
  }
}

const port = Number.parseInt(process.argv[2] ?? '0', 10);
if (!Number.isInteger(port) || port < 0 || port > 65535) {
  console.error(`usage: node relay.mjs PORT [--tls CERT.pem KEY.pem] (0 = any); got ${process.argv[2]}`);
  process.exit(2);
}
const options = process.argv.slice(3);
if (options.length !== 0 && (options.length !== 3 || options[0] !== '--tls')) {
  console.error(`usage: node relay.mjs PORT [--tls CERT.pem KEY.pem]; got ${options.join(' ')}`);
  process.exit(2);
}

// With --tls, ws upgrades requests on an https server of ours, and passes on
// its "listening" and "error" events like those of the server it makes itself
// otherwise.
let https = null;
if (options.length === 3) {
  try {
    https = createServer({ cert: readFileSync(options[1]), key: readFileSync(options[2]) });
  } catch (error) {
    console.error(`relay: ${error.message}`);
    process.exit(1);
  }
  // A client that refuses the certificate aborts the handshake: nothing to do.
  https.on('tlsClientError', () => {});
}

const relay = new NostrRelay(new MemoryEventRepository(), { logLevel: 3 /* ERROR */ });
const server = https === null
  ? new WebSocketServer({ host: '127.0.0.1', port, maxPayload: 256 * 1024 })
  : new WebSocketServer({ server: https, maxPayload: 256 * 1024 });

server.on('connection', ws => {
  const client = new FilteringClient(ws);
  relay.handleConnection(client, '127.0.0.1');
  ws.on('message', async (data, isBinary) => {
    let message;
    try {
      message = isBinary ? null : JSON.parse(data.toString('utf8'));
    } catch {
      message = null;
    }
    if (!isValidMessage(message)) {
      ws.send(JSON.stringify(['NOTICE', 'invalid: not a valid client message']));
      return;
    }
    if (message[0] === 'REQ') client.subscriptions.set(message[1], message.slice(2));
    if (message[0] === 'CLOSE') client.subscriptions.delete(message[1]);
    try {
      await relay.handleMessage(client, message);
    } catch (error) {
      ws.send(JSON.stringify(['NOTICE', `error: ${error.message}`]));
    }
  });
  ws.on('close', () => relay.handleDisconnect(client));
  ws.on('error', () => relay.handleDisconnect(client));
});

server.on('error', error => {
  console.error(`relay: ${error.message}`);
  process.exit(1);
});

server.on('listening', () => {
  process.stdout.write(`listening ${server.address().port}\n`);
});

https?.listen(port, '127.0.0.1');

function stop() {
  for (const ws of server.clients) ws.terminate();
  server.close();
  process.exit(0);
}

process.stdin.on('end', stop);
process.stdin.on('error', stop);
process.stdin.resume();
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
