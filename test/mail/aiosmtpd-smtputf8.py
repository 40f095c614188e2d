"""
aiosmtpd (Debian python3-aiosmtpd) with or without SMTPUTF8 (RFC 6531), for send-smtputf8.test.ts.

    python3 aiosmtpd-smtputf8.py on|off

Listens on 127.0.0.1, port 0, and prints JSON lines: {"port": N} once, then {"command": NAME,
"arg": ARG} for every command it dispatches, {"strict_ascii": true} when it refuses an 8-bit line,
and {"message": {...}} for every message stored (envelope, MAIL parameters, raw content). So a test
sees exactly what reached the server — and that nothing but EHLO and QUIT did when we refuse.
"""
import asyncio
import json
import sys

from aiosmtpd.smtp import SMTP

SMTPUTF8 = sys.argv[1] == 'on'


def out(record):
    print(json.dumps(record), flush=True)


class Handler:
    async def handle_DATA(self, server, session, envelope):
        out({'message': {
            'mail_from': envelope.mail_from,
            'mail_options': envelope.mail_options,
            'rcpt_tos': envelope.rcpt_tos,
            'smtp_utf8': envelope.smtp_utf8,
            'content': envelope.original_content.decode('utf-8'),
        }})
        return '250 OK stored'


class Recording(SMTP):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # every dispatched command goes through this table; wrap each entry to log it first
        for name, method in list(self._smtp_methods.items()):
            self._smtp_methods[name] = self._recorded(name, method)

    def _recorded(self, name, method):
        async def run(arg):
            out({'command': name, 'arg': arg})
            return await method(arg)
        return run

    async def push(self, status):
        if status.startswith('500 Error: strict ASCII'):
            out({'strict_ascii': True})
        return await super().push(status)


async def main():
    loop = asyncio.get_running_loop()
    server = await loop.create_server(
        lambda: Recording(Handler(), hostname='aiosmtpd.test', enable_SMTPUTF8=SMTPUTF8),
        '127.0.0.1', 0)
    out({'port': server.sockets[0].getsockname()[1]})
    await asyncio.Event().wait()

asyncio.run(main())
