/**
 * Kafka's socket factory, with an eye on two failures that retrying cannot fix and that kafkajs
 * would otherwise retry until its budget runs out (or report as a bare "Closed connection"):
 *
 * - a broker certificate that does not verify (untrusted CA, wrong name, expired), and
 * - a plaintext client talking to a TLS listener: the broker answers the first request with a
 *   TLS alert record (0x15 0x03 0x0N), which no Kafka response can start with (it would be a
 *   size prefix of over 350 MB).
 *
 * Either one settles `fatal` with an AuthFailure at once, so a mode exits 4 in about a second.
 */
import net from "node:net";
import tls from "node:tls";
import { AuthFailure } from "../errors.ts";

/** Node's codes for a certificate that does not verify. */
export const TLS_VERIFY_CODES =
  /^(SELF_SIGNED_CERT|UNABLE_TO_VERIFY|UNABLE_TO_GET_ISSUER|CERT_|ERR_TLS_CERT|DEPTH_ZERO_SELF_SIGNED|HOSTNAME_MISMATCH|ERR_SSL_(SSLV3|TLSV1(3)?)_ALERT_)/;

const KEEP_ALIVE_MS = 60_000;

/** The first bytes of a TLS alert record (content type 21, version 3.x). */
export function looksLikeTlsAlert(chunk: Uint8Array): boolean {
  return chunk.length >= 3 && chunk[0] === 0x15 && chunk[1] === 0x03 && chunk[2] <= 0x04;
}

export interface SocketFactoryArgs {
  host: string;
  port: number;
  ssl: tls.ConnectionOptions;
  onConnect: () => void;
}

export class TransportWatch {
  /** Settles with the first fatal transport failure; never rejects. */
  readonly fatal: Promise<AuthFailure>;
  #report!: (failure: AuthFailure) => void;
  #failure?: AuthFailure;

  constructor() {
    this.fatal = new Promise((resolve) => {
      this.#report = (failure) => {
        if (this.#failure) return;
        this.#failure = failure;
        resolve(failure);
      };
    });
  }

  get failure(): AuthFailure | undefined {
    return this.#failure;
  }

  /** kafkajs's `socketFactory`: its default one (tls.connect or net.connect) plus the checks. */
  readonly socketFactory = ({ host, port, ssl, onConnect }: SocketFactoryArgs): net.Socket => {
    const address = `${host}:${port}`;
    let socket: net.Socket;
    if (ssl) {
      socket = tls.connect(
        { host, port, ...(net.isIP(host) ? {} : { servername: host }), ...ssl },
        onConnect,
      );
      socket.on("error", (error: Error & { code?: string }) => {
        const code = String(error.code ?? "");
        if (!TLS_VERIFY_CODES.test(code)) return;
        // An alert is the broker refusing us (mostly: no or an unknown client certificate).
        const message = /ALERT/.test(code)
          ? `the broker at ${address} refused the TLS handshake: ${error.message} (a listener with mutual TLS needs [bus.tls] cert_file and key_file, signed by a CA it trusts)`
          : `the TLS certificate of the broker at ${address} does not verify: ${error.message} (check [bus.tls] ca_file and server_name)`;
        this.#report(new AuthFailure(message, { cause: error }));
      });
    } else {
      socket = net.connect({ host, port }, onConnect);
      socket.once("data", (chunk: Uint8Array) => {
        if (looksLikeTlsAlert(chunk)) {
          this.#report(
            new AuthFailure(
              `the broker at ${address} speaks TLS, but this client connects in plaintext (add a [bus.tls] section)`,
            ),
          );
        }
      });
    }
    socket.setKeepAlive(true, KEEP_ALIVE_MS);
    return socket;
  };

  /** `work`, unless a fatal transport failure comes first (then that failure is thrown). */
  async race<T>(work: Promise<T>): Promise<T> {
    if (this.#failure) {
      work.catch(() => {});
      throw this.#failure;
    }
    const fatal = this.fatal.then((failure) => {
      throw failure;
    });
    work.catch(() => {});
    return await Promise.race([work, fatal]);
  }
}
