/** The OpenAPI 3.1 description of the lab's REST API, served at /api/v1/openapi.json. */
const json = { 'application/json': { schema: { type: 'object' } } };
const ok = (description: string) => ({ 200: { description, content: json } });
const mbId = [
  { name: 'mailbox', in: 'path', required: true, schema: { type: 'string' } },
  { name: 'id', in: 'path', required: true, schema: { type: 'string' }, description: 'Maildir unique name' },
];

export const openapi = {
  openapi: '3.1.0',
  info: {
    title: 'netkit lab API',
    version: '1',
    description:
      'Captured mail, FTP tree and sessions, chat rooms, the protocol wire log and service status of a running `netkit lab`. Live updates: WebSocket at /api/v1/ws or Server-Sent Events at /api/v1/events. State-changing requests must come from the same origin (or a non-browser client) and carry JSON.',
  },
  servers: [{ url: '/api/v1' }],
  paths: {
    '/status': {
      get: { summary: 'Services with addresses, connection counts and totals', responses: ok('status') },
    },
    '/mailboxes': { get: { summary: 'Mailboxes with total and unread counts', responses: ok('mailboxes') } },
    '/messages': {
      get: {
        summary: 'List messages, newest first, with search and pagination',
        parameters: [
          { name: 'mailbox', in: 'query', schema: { type: 'string' } },
          {
            name: 'q',
            in: 'query',
            schema: { type: 'string' },
            description:
              'Search: from: to: cc: subject: has:attachment is:unread is:read before:YYYY-MM-DD after:YYYY-MM-DD (delivery time, UTC) larger:SIZE smaller:SIZE (500, 10k, 2m), free text; "quotes" group words, a leading - negates',
          },
          { name: 'page', in: 'query', schema: { type: 'integer', minimum: 1 } },
          { name: 'pageSize', in: 'query', schema: { type: 'integer', minimum: 1, maximum: 500 } },
        ],
        responses: ok('{total, page, pageSize, unread, messages[]}'),
      },
      delete: {
        summary: 'Delete all messages (of one mailbox with ?mailbox=)',
        parameters: [{ name: 'mailbox', in: 'query', schema: { type: 'string' } }],
        responses: ok('{deleted}'),
      },
    },
    '/messages/{mailbox}/{id}': {
      get: {
        summary: 'One message: decoded headers, text, attachment list, deliveredTo (the envelope recipient)',
        parameters: mbId,
        responses: ok('message'),
      },
      delete: { summary: 'Delete one message', parameters: mbId, responses: ok('{ok}') },
    },
    '/messages/{mailbox}/{id}/read': {
      post: {
        summary: 'Mark as read',
        parameters: mbId,
        responses: { ...ok('{ok}'), 404: { description: 'no such message', content: json } },
      },
    },
    '/messages/{mailbox}/{id}/raw': {
      get: {
        summary: 'Raw RFC 5322 source',
        parameters: mbId,
        responses: { 200: { description: 'text/plain' } },
      },
    },
    '/messages/{mailbox}/{id}/html': {
      get: {
        summary: 'The HTML part, with cid: images resolved, under a sandboxing Content-Security-Policy',
        parameters: [...mbId, { name: 'remote', in: 'query', schema: { type: 'string', enum: ['1'] } }],
        responses: { 200: { description: 'text/html' } },
      },
    },
    '/messages/{mailbox}/{id}/parts/{index}': {
      get: {
        summary: 'Download one attachment',
        parameters: [...mbId, { name: 'index', in: 'path', required: true, schema: { type: 'integer' } }],
        responses: { 200: { description: 'the attachment bytes' } },
      },
    },
    '/messages/{mailbox}/{id}/cid/{cid}': {
      get: {
        summary: 'An inline image by Content-ID',
        parameters: [...mbId, { name: 'cid', in: 'path', required: true, schema: { type: 'string' } }],
        responses: { 200: { description: 'image' } },
      },
    },
    '/messages/{mailbox}/{id}/transcript': {
      get: {
        summary: 'The SMTP conversation that delivered it',
        parameters: mbId,
        responses: { 200: { description: 'text' } },
      },
    },
    '/accounts': {
      get: { summary: 'Accounts with their class and FTP permissions', responses: ok('accounts') },
    },
    '/ftp/tree': {
      get: {
        summary: 'List a directory of the FTP tree',
        parameters: [{ name: 'path', in: 'query', schema: { type: 'string' } }],
        responses: ok('{path, entries[]}'),
      },
    },
    '/ftp/file': {
      get: {
        summary: 'Download a file of the FTP tree',
        parameters: [{ name: 'path', in: 'query', required: true, schema: { type: 'string' } }],
        responses: { 200: { description: 'file bytes' } },
      },
    },
    '/ftp/sessions': { get: { summary: 'Live FTP sessions and transfers', responses: ok('sessions') } },
    '/chat/rooms': { get: { summary: 'Chat rooms and their members', responses: ok('rooms') } },
    '/chat/rooms/{room}/messages': {
      get: {
        summary: 'Recent messages of a room',
        parameters: [{ name: 'room', in: 'path', required: true, schema: { type: 'string' } }],
        responses: ok('messages'),
      },
      post: {
        summary: 'Post into a room (delivered to the TCP chat users too)',
        parameters: [{ name: 'room', in: 'path', required: true, schema: { type: 'string' } }],
        requestBody: {
          required: true,
          content: {
            'application/json': {
              schema: {
                type: 'object',
                properties: { nick: { type: 'string' }, text: { type: 'string' } },
                required: ['text'],
              },
            },
          },
        },
        responses: { 201: { description: 'posted' } },
      },
    },
    '/wire': {
      get: {
        summary: 'Recent protocol trace events across services (secrets redacted)',
        parameters: [
          { name: 'service', in: 'query', schema: { type: 'string' } },
          { name: 'conn', in: 'query', schema: { type: 'integer' } },
          { name: 'limit', in: 'query', schema: { type: 'integer' } },
        ],
        responses: ok('trace events'),
      },
    },
    '/events': {
      get: {
        summary: 'Server-Sent Events: mail, chat, ftp, trace',
        responses: { 200: { description: 'text/event-stream' } },
      },
    },
  },
};
