/** For tests: a stand-in for systemd's notify socket (an AF_UNIX datagram receiver). */

/** A datagram socket that records what arrives, like systemd's notify socket. */
export class NotifyReceiver {
  readonly messages: string[] = [];
  readonly #conn: Deno.DatagramConn;
  readonly #done: Promise<void>;

  constructor(readonly path: string) {
    const conn = Deno.listenDatagram({ transport: "unixpacket", path });
    this.#conn = conn;
    this.#done = (async () => {
      try {
        for (;;) {
          const [data] = await conn.receive();
          this.messages.push(new TextDecoder().decode(data));
        }
      } catch { /* closed */ }
    })();
  }

  async waitFor(predicate: (messages: string[]) => boolean, timeoutMs = 3000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!predicate(this.messages)) {
      if (Date.now() > deadline) {
        throw new Error(`timed out; received ${JSON.stringify(this.messages)}`);
      }
      await new Promise((r) => setTimeout(r, 10));
    }
  }

  async close(): Promise<void> {
    this.#conn.close();
    await this.#done;
  }
}
