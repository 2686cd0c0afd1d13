import assert from "node:assert/strict";
import { addressOf, groupReplicas, healthOf, parseContainerList } from "./containers.ts";
import { container, replica } from "./test_helpers.ts";

/** A `GET /containers/json` answer as Docker Engine 20.10 gave it (trimmed). */
const LISTED = [
  {
    Id: "95b1bfcecf4fe865eaf232bdd3fa7adcf98f688adfbe3bffd58e000e9b5c04f9",
    Names: ["/gh-i21-probe"],
    Image: "denoland/deno:distroless-2.9.6",
    Created: 1796544079,
    Ports: [{ PrivatePort: 8000, Type: "tcp" }, { PrivatePort: 9000, Type: "udp" }, {
      IP: "0.0.0.0",
      PrivatePort: 8000,
      PublicPort: 49153,
      Type: "tcp",
    }],
    Labels: { "gatehouse.enable": "true" },
    State: "running",
    Status: "Up 1 second (health: starting)",
    HostConfig: { NetworkMode: "gh-i21-net" },
    NetworkSettings: {
      Networks: {
        "gh-i21-net": { IPAddress: "192.168.0.2", GlobalIPv6Address: "", Gateway: "192.168.0.1" },
      },
    },
  },
  { Names: ["/no-id"] },
  "junk",
];

Deno.test("the container list is read defensively: labels, health, networks, exposed ports", () => {
  const [c, ...rest] = parseContainerList(LISTED);
  assert.deepEqual(rest, []);
  assert.deepEqual(c, {
    id: "95b1bfcecf4fe865eaf232bdd3fa7adcf98f688adfbe3bffd58e000e9b5c04f9",
    name: "gh-i21-probe",
    created: 1796544079,
    labels: { "gatehouse.enable": "true" },
    state: "running",
    health: "starting",
    networkMode: "gh-i21-net",
    networks: [{ name: "gh-i21-net", ip: "192.168.0.2", ipv6: "" }],
    ports: [{ port: 8000, protocol: "tcp" }, { port: 9000, protocol: "udp" }],
  });
  assert.throws(() => parseContainerList({ message: "page not found" }), /not a JSON array/);
  assert.deepEqual(
    ["Up 5 seconds (healthy)", "Up 1 hour (unhealthy)", "Up 3 minutes"].map(healthOf),
    ["healthy", "unhealthy", "none"],
  );
});

Deno.test("replicas group by compose service or Swarm service; the oldest group first", () => {
  const web1 = replica("web", 1, {});
  const lone = container("lone", {});
  const web2 = replica("web", 2, {});
  const task = container("stack_api.1.x", { "com.docker.swarm.service.name": "stack_api" });
  const groups = groupReplicas([web2, task, lone, web1]);
  assert.deepEqual(groups.map((g) => [g.key, g.name, g.replicas.map((r) => r.name)]), [
    ["compose:shop/web", "web", ["shop-web-1", "shop-web-2"]],
    ["container:lone", "lone", ["lone"]],
    ["swarm:stack_api", "stack_api", ["stack_api.1.x"]],
  ]);
});

Deno.test("the address: the only network, the one named, host mode, IPv6, or why none", () => {
  const two = container("two", {}, {
    networks: [{ name: "a", ip: "10.0.0.2", ipv6: "" }, { name: "b", ip: "", ipv6: "fd00::2" }],
  });
  assert.deepEqual(addressOf(two, "a"), { host: "10.0.0.2" });
  assert.deepEqual(addressOf(two, "b"), { host: "[fd00::2]" });
  assert.match(JSON.stringify(addressOf(two, null)), /several networks \(a, b\)/);
  assert.match(
    JSON.stringify(addressOf(two, "c")),
    /not attached to network \\"c\\" \(its networks: a, b\)/,
  );
  const host = container("host", {}, {
    networkMode: "host",
    networks: [{ name: "host", ip: "", ipv6: "" }],
  });
  assert.deepEqual(addressOf(host, null), { host: "127.0.0.1" });
  const none = container("none", {}, {
    networkMode: "none",
    networks: [{ name: "none", ip: "", ipv6: "" }],
  });
  assert.deepEqual(addressOf(none, null), {
    problem: `it has no IP address (network mode "none")`,
  });
});
