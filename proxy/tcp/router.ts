/**
 * TCP route choice for one entrypoint, by the server name (SNI) of the client's TLS hello: an
 * exact name first, then the `*.` wildcard one label up (`*.example.com` covers a.example.com,
 * not a.b.example.com, as HTTP routes and certificates do), then the entrypoint's default route
 * (the one without `sni`). The config guarantees names are not claimed twice on one entrypoint.
 */
import type { TcpRoute } from "../config/types.ts";
import { HostTable } from "../net/host_table.ts";

export class TcpRouter {
  /** The routes serving this entrypoint, in file order. */
  readonly routes: readonly TcpRoute[];
  /** The route without `sni`, if any. */
  readonly fallback: TcpRoute | null;
  /** True when connections must be looked at (ClientHello) before a route is known. */
  readonly bySni: boolean;
  readonly #names = new HostTable<TcpRoute>();

  constructor(routes: readonly TcpRoute[], entrypoint: string) {
    this.routes = routes.filter((r) => r.entrypoints.includes(entrypoint));
    let fallback: TcpRoute | null = null;
    for (const route of this.routes) {
      if (route.sni.length === 0) fallback ??= route;
      for (const name of route.sni) this.#names.claim(name, route);
    }
    this.fallback = fallback;
    this.bySni = this.routes.some((r) => r.sni.length > 0 || r.passthrough);
  }

  /** The route for a server name (lowercase; null when the client sent none). */
  match(sni: string | null): TcpRoute | null {
    return (sni === null ? undefined : this.#names.match(sni)) ?? this.fallback;
  }
}
