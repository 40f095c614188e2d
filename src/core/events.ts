/**
 * Typed listeners for netkit's EventEmitters. Each emitter names its events in a map from event name
 * to the listener's arguments (`{ message: [message: ChatMessage]; close: [] }`), so `on`, `once` and
 * `off` hand a listener its real payload instead of `any`. An event name outside the map still takes
 * any listener, as on every EventEmitter. Types only: at run time each one is a plain EventEmitter.
 */
import { EventEmitter } from 'node:events';

// biome-ignore lint/suspicious/noExplicitAny: EventEmitter's catch-all overload
type AnyListener = (...args: any[]) => void;

/** An EventEmitter whose listeners for the events of `Events` get their arguments' types. */
export interface TypedEmitter<Events extends { [E in keyof Events]: unknown[] }> extends EventEmitter {
  on<E extends keyof Events & string>(event: E, listener: (...args: Events[E]) => void): this;
  on(event: string | symbol, listener: AnyListener): this;
  once<E extends keyof Events & string>(event: E, listener: (...args: Events[E]) => void): this;
  once(event: string | symbol, listener: AnyListener): this;
  off<E extends keyof Events & string>(event: E, listener: (...args: Events[E]) => void): this;
  off(event: string | symbol, listener: AnyListener): this;
}

/** EventEmitter itself, as the base of a class with typed events: `extends TypedEventEmitter<XEvents>`. */
export const TypedEventEmitter = EventEmitter as unknown as new <
  Events extends { [E in keyof Events]: unknown[] },
>() => TypedEmitter<Events>;
