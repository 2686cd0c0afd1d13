/**
 * The part of testcontainers 12's API that the e2e tests use (see containers.ts for why the
 * package's own declarations are not used).
 */
import type { Readable } from "node:stream";

export interface BindMount {
  source: string;
  target: string;
  mode?: "rw" | "ro";
}

export interface WaitStrategy {
  withStartupTimeout(ms: number): WaitStrategy;
}

export interface HttpWaitStrategy extends WaitStrategy {
  forStatusCode(code: number): HttpWaitStrategy;
}

export declare class Wait {
  static forLogMessage(message: string | RegExp, times?: number): WaitStrategy;
  static forHttp(path: string, port: number): HttpWaitStrategy;
}

export interface StartedNetwork extends AsyncDisposable {
  getId(): string;
  getName(): string;
  stop(): Promise<unknown>;
}

export declare class Network {
  start(): Promise<StartedNetwork>;
}

export interface StartedTestContainer extends AsyncDisposable {
  getId(): string;
  getHost(): string;
  getMappedPort(port: number): number;
  getIpAddress(networkName: string): string;
  stop(options?: { timeout?: number; remove?: boolean; removeVolumes?: boolean }): Promise<unknown>;
}

export declare class GenericContainer {
  constructor(image: string);
  withNetwork(network: StartedNetwork): this;
  withNetworkMode(networkMode: string): this;
  withName(name: string): this;
  withNetworkAliases(...aliases: string[]): this;
  withEnvironment(environment: Record<string, string>): this;
  withCommand(command: string[]): this;
  withExposedPorts(...ports: number[]): this;
  withBindMounts(mounts: BindMount[]): this;
  withLabels(labels: Record<string, string>): this;
  withLogConsumer(consumer: (stream: Readable) => unknown): this;
  withWaitStrategy(strategy: WaitStrategy): this;
  withStartupTimeout(ms: number): this;
  /** `memory` in GiB, `cpu` in cores. */
  withResourcesQuota(quota: { memory?: number; cpu?: number }): this;
  start(): Promise<StartedTestContainer>;
}
