/**
 * UDP round trips through a UDP proxy (or straight to bench/servers/udp_echo.ts):
 * `--port P --size N --clients C --seconds S --warmup W`. Each of C clients has its own socket
 * (so its own session in the proxy), sends one N-byte datagram to 127.0.0.1:P, waits for the
 * echo and sends the next; prints datagrams/s (echoed round trips) and the round trip's p99.
 *
 * A datagram lost on the way (UDP has no retransmission) would stop its client: after
 * LOSS_TIMEOUT_MS without the echo the client counts an error, replaces its socket (a pending
 * receive cannot be cancelled; the proxy sees a new session) and goes on. Echoes are checked by
 * length and by a sequence number in the first 4 bytes.
 *
 * @module
 */
import { measurePhases, options } from "./common.ts";

const opt = options({
  port: undefined,
  size: "64",
  clients: "50",
  seconds: "5",
  warmup: "1",
});
const port = Number(opt.port);
const size = Number(opt.size);
const clients = Number(opt.clients);
if (!(port > 0) || !(size >= 4 && size <= 65_507)) {
  throw new Error(`Cannot run: --port must be a port and --size 4..65507, not ${port} ${size}`);
}

/** How long a client waits for an echo before it counts the datagram as lost. */
const LOSS_TIMEOUT_MS = 1000;

interface Client {
  socket: Deno.DatagramConn;
  payload: Uint8Array;
  view: DataView;
  seq: number;
}

const target: Deno.NetAddr = { transport: "udp", hostname: "127.0.0.1", port };
const open = () => Deno.listenDatagram({ transport: "udp", hostname: "127.0.0.1", port: 0 });
const sockets: Client[] = Array.from({ length: clients }, () => {
  const payload = new Uint8Array(size).fill(0x61);
  return { socket: open(), payload, view: new DataView(payload.buffer), seq: 0 };
});

async function roundTrip(worker: number): Promise<void> {
  const client = sockets[worker];
  const seq = ++client.seq;
  client.view.setUint32(0, seq);
  await client.socket.send(client.payload, target);
  let timer: ReturnType<typeof setTimeout> | undefined;
  const lost = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`no echo within ${LOSS_TIMEOUT_MS} ms`)),
      LOSS_TIMEOUT_MS,
    );
  });
  try {
    for (;;) {
      const [data] = await Promise.race([client.socket.receive(), lost]);
      if (data.length !== size) throw new Error(`echo of ${data.length} bytes, sent ${size}`);
      if (new DataView(data.buffer, data.byteOffset).getUint32(0) === seq) return;
    }
  } catch (error) {
    client.socket.close();
    client.socket = open();
    throw error;
  } finally {
    clearTimeout(timer);
  }
}

await measurePhases(clients, Number(opt.warmup), Number(opt.seconds), roundTrip);
for (const client of sockets) client.socket.close();
