/**
 * The shape of a message parsed by postal-mime (`MailIndex.parsed()`, the REST API's
 * `/messages/:id` body), declared here rather than imported: postal-mime's own declaration files
 * name the DOM's `TextEncoder`/`TextDecoder` types, so a library user whose tsconfig has
 * `skipLibCheck: false` and Node's types without `lib: ["DOM"]` could not compile anything that
 * imports netkit. mail-index.ts assigns postal-mime's result to this type, so tsc tells us when the
 * two drift apart.
 */

export interface ParsedMailbox {
  name: string;
  address: string;
  group?: undefined;
}

export interface ParsedAddressGroup {
  name: string;
  address?: undefined;
  group: ParsedMailbox[];
}

export type ParsedAddress = ParsedMailbox | ParsedAddressGroup;

export interface ParsedAttachment {
  filename: string | null;
  mimeType: string;
  disposition: string | null;
  related?: boolean | undefined;
  description?: string | undefined;
  contentId?: string | undefined;
  method?: string | undefined;
  rfc822DepthExceeded?: boolean | undefined;
  content: ArrayBuffer | Uint8Array | string;
  encoding?: 'base64' | 'utf8' | undefined;
}

export interface ParsedEmail {
  headers: Array<{ key: string; originalKey: string; value: string }>;
  headerLines: Array<{ key: string; line: string }>;
  from?: ParsedAddress | undefined;
  sender?: ParsedAddress | undefined;
  replyTo?: ParsedAddress[] | undefined;
  deliveredTo?: string | undefined;
  returnPath?: string | undefined;
  to?: ParsedAddress[] | undefined;
  cc?: ParsedAddress[] | undefined;
  bcc?: ParsedAddress[] | undefined;
  subject?: string | undefined;
  messageId?: string | undefined;
  inReplyTo?: string | undefined;
  references?: string | undefined;
  date?: string | undefined;
  html?: string | undefined;
  text?: string | undefined;
  attachments: ParsedAttachment[];
}
