/**
 * Messages larger than Deno's own WebSocket accepts (it refuses 64 MiB and more) cross the
 * tunnel intact between two python3-websockets peers that accept them: the tunnel moves bytes
 * and knows no message size.
 */
import assert from "node:assert/strict";
import { pythonWsClient, pythonWsServer } from "../testing/python_ws.ts";
import { waitFor } from "../testing/servers.ts";
import { tunnelProxy, wsUrl } from "../testing/tunnel_peers.ts";

const MiB = 1 << 20;

for (const ep of ["web", "secure"] as const) {
  Deno.test(`${ep}: 64 MiB and 128 MiB messages arrive intact both ways`, async () => {
    await using up = await pythonWsServer();
    await using gw = await tunnelProxy(up.url);
    for (const [i, size] of [64 * MiB, 128 * MiB].entries()) {
      // Random bytes without compression: every byte of the message crosses the proxy.
      const result = await pythonWsClient(wsUrl(gw, ep, `/big/${size}`), "big", {
        cafile: gw.certs.caCertPath,
        size,
        noCompression: true,
      });
      assert.equal(result.received_size, size);
      assert.equal(result.received_sha256, result.sent_sha256);
      await up.ended(i + 1, 30_000);
      assert.deepEqual(up.sessions[i].large, [{ size, sha256: result.sent_sha256 }]);
      await waitFor(() => gw.outcomes.length === i + 1, "the session's log record");
      assert.ok(gw.outcomes[i].bytesIn > size && gw.outcomes[i].bytesOut > size);
    }
  });
}
