// A handset's radio, between its agent and the broker: a Transport (agent/mqtt-link.ts) that can
// be switched off. Off: every connection attempt fails at once ("network unreachable") and the
// connections up are dropped without DISCONNECT, so the broker publishes the Last Will - what a
// phone in a tunnel, or in a thief's foil bag, looks like to the rest of the system.
import type { Link, Transport } from "../agent/mqtt-link.js";

export class NetworkDownError extends Error {
  readonly code = "E_NETWORK_DOWN";
  constructor() {
    super("E_NETWORK_DOWN: the handset's network is switched off");
    this.name = "NetworkDownError";
  }
}

export class NetworkSwitch {
  #up = true;
  readonly #links = new Set<Link>();
  readonly transport: Transport;

  constructor(inner: Transport) {
    this.transport = async (options, handlers) => {
      if (!this.#up) throw new NetworkDownError();
      let link: Link | undefined;
      const wrapped = await inner(options, {
        message: (topic, payload) => handlers.message(topic, payload),
        closed: (error) => {
          if (link) this.#links.delete(link);
          handlers.closed(error);
        },
      });
      link = wrapped;
      if (!this.#up) {
        // Switched off while connecting.
        await wrapped.end(false).catch(() => undefined);
        throw new NetworkDownError();
      }
      this.#links.add(wrapped);
      return wrapped;
    };
  }

  get up(): boolean {
    return this.#up;
  }

  /** Switches the radio on or off (off drops every connection like a lost signal). */
  set(up: boolean): void {
    this.#up = up;
    if (up) return;
    for (const l of [...this.#links]) {
      this.#links.delete(l);
      void l.end(false).catch(() => undefined);
    }
  }
}
