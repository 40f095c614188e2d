/**
 * The lab's wire log: the last N trace events from every service (already redacted by the
 * protocol modules), kept in a ring buffer for the dashboard's Wire view and the REST API, and
 * re-emitted live to subscribers.
 */
import type { EventEmitter } from 'node:events';
import { TypedEventEmitter } from '../core/events.js';
import type { TraceEvent } from '../core/trace.js';

/** What a {@link WireLog} emits, each event with its listener's arguments. */
export interface WireLogEvents {
  /** a trace event from one of the attached services */
  event: [event: TraceEvent];
}

/** The wire log (see the module comment): attach services, read the recent events, listen to `event`. */
export class WireLog extends TypedEventEmitter<WireLogEvents> {
  private readonly buf: TraceEvent[] = [];
  private start = 0;

  constructor(readonly capacity = 5000) {
    super();
  }

  /** Subscribe to an emitter's 'trace' events. */
  attach(source: EventEmitter): void {
    source.on('trace', (ev: TraceEvent) => this.push(ev));
  }

  push(ev: TraceEvent): void {
    if (this.buf.length < this.capacity) this.buf.push(ev);
    else {
      this.buf[this.start] = ev;
      this.start = (this.start + 1) % this.capacity;
    }
    this.emit('event', ev);
  }

  /** Events oldest first, optionally filtered by service and connection. */
  events(filter: { service?: string; conn?: number; limit?: number } = {}): TraceEvent[] {
    const ordered = [...this.buf.slice(this.start), ...this.buf.slice(0, this.start)];
    const out = ordered.filter(
      (e) =>
        (!filter.service || e.service === filter.service) &&
        (filter.conn === undefined || e.conn === filter.conn),
    );
    return filter.limit ? out.slice(-filter.limit) : out;
  }
}
