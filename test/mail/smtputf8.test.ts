/**
 * The SMTPUTF8 (RFC 6531) helpers of `mail send`, without a server: which address needs it, how an
 * EHLO reply is read, how the MAIL FROM parameter is added, and the envelope form of UTF-8 addresses.
 */
import { describe, expect, it } from 'vitest';
import { composeMail, envelopeAddress } from '../../src/mail/compose.js';
import {
  findUtf8Address,
  hasUtf8LocalPart,
  offersSmtpUtf8,
  smtpUtf8NotOffered,
  withSmtpUtf8Param,
} from '../../src/mail/smtputf8.js';
import { netkit } from '../helpers/net.js';

describe('SMTPUTF8 helpers', () => {
  it('finds the first address with a non-ASCII local part, then any 8-bit header', () => {
    const ascii = Buffer.from('From: a@lab\r\nSubject: x\r\n\r\nbody ü\r\n');
    expect(hasUtf8LocalPart('bøb@lab')).toBe(true);
    expect(hasUtf8LocalPart('bob@bücher.de')).toBe(false);
    expect(findUtf8Address([['to', ['a@bücher.de', 'b@lab']]], ascii)).toBeUndefined();
    expect(
      findUtf8Address(
        [
          ['from', ['a@lab']],
          ['reply-to', ['x@lab', 'rø@lab']],
        ],
        ascii,
      ),
    ).toEqual({ field: 'reply-to', address: 'rø@lab' });
    // the safety net names the header, also from a folded continuation line
    const folded = Buffer.from('From: a@lab\r\nX-List: one,\r\n two ü\r\n\r\nx');
    expect(findUtf8Address([], folded)).toEqual({ field: 'header', address: 'X-List' });
    expect(smtpUtf8NotOffered({ field: 'header', address: 'X-List' }, 'h:25').message).toBe(
      '553 5.6.7 the X-List header contains UTF-8: SMTPUTF8 is required, but was not offered by host h:25; nothing was sent',
    );
  });

  it('reads SMTPUTF8 only as a whole EHLO keyword', () => {
    expect(offersSmtpUtf8('250-lab\n250-PIPELINING\n250 SMTPUTF8')).toBe(true);
    expect(offersSmtpUtf8('250-lab\r\n250-SMTPUTF8\r\n250 HELP')).toBe(true);
    expect(offersSmtpUtf8('250-lab\n250 SMTPUTF8X')).toBe(false);
    expect(offersSmtpUtf8('250-lab\n250 X-NOT SMTPUTF8')).toBe(false);
    expect(offersSmtpUtf8('250 lab Hello SMTPUTF8')).toBe(false); // the greeting line is no keyword
    expect(offersSmtpUtf8('250 lab')).toBe(false);
  });

  it('adds the MAIL FROM parameter once, and to nothing else', () => {
    expect(withSmtpUtf8Param('MAIL FROM:<a@lab>')).toBe('MAIL FROM:<a@lab> SMTPUTF8');
    expect(withSmtpUtf8Param('MAIL FROM:<a@lab> SIZE=10')).toBe('MAIL FROM:<a@lab> SMTPUTF8 SIZE=10');
    expect(withSmtpUtf8Param('MAIL FROM:<å@lab> SMTPUTF8')).toBe('MAIL FROM:<å@lab> SMTPUTF8');
    expect(withSmtpUtf8Param('RCPT TO:<b@lab>')).toBe('RCPT TO:<b@lab>');
  });

  it('keeps a UTF-8 address in UTF-8 in the envelope (U-labels, as in the headers)', async () => {
    expect(envelopeAddress('to', 'x@bücher.de')).toBe('x@xn--bcher-kva.de');
    expect(envelopeAddress('to', 'bøb@bücher.de')).toBe('bøb@bücher.de');
    expect(envelopeAddress('to', 'bøb@xn--bcher-kva.de')).toBe('bøb@bücher.de');
    const r = await composeMail({ from: 'a@lab', to: 'bøb@xn--bcher-kva.de', bcc: 'cø@lab', text: 'x' });
    expect(r.envelope.to).toEqual(['bøb@bücher.de', 'cø@lab']);
    expect(r.smtpUtf8).toEqual({ field: 'to', address: 'bøb@xn--bcher-kva.de' });
    expect(r.message.toString()).toMatch(/^To: bøb@bücher\.de\r$/m);
    const plain = await composeMail({ from: 'a@lab', to: 'b@bücher.de', text: 'x' });
    expect(plain.smtpUtf8).toBeUndefined();
  });

  it('--dry-run --json says which address needs SMTPUTF8', async () => {
    const r = await netkit([
      'mail',
      'send',
      '--dry-run',
      '--json',
      '--from',
      'a@lab',
      '--to',
      'bøb@lab',
      '--text',
      'x',
    ]);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout).smtputf8).toEqual({ field: 'to', address: 'bøb@lab' });
  });
});
