// Scrapes every node's kubelet `/stats/summary` into ResourceMetrics, as metrics-server does every
// `--metric-resolution` (15 s by default). Nodes are read from storage at each round, so nodes
// that join are scraped at once and deleted ones are forgotten. A node that does not answer keeps
// its last metrics for three rounds (upstream shows stale data for a short while, then nothing).
import { request as httpsRequest } from 'node:https';
import type { Node } from 'kubernetes-types/core/v1.js';
import type { Logger } from 'pino';
import type { KubeObject } from '../../api/object.js';
import { kubeletAddress } from './kubelet-proxy.js';
import type { ResourceMetrics, Summary } from './metrics-api.js';

export interface MetricsScraperOptions {
  metrics: ResourceMetrics;
  listNodes(): Promise<KubeObject[]>;
  /** The `kube-apiserver-kubelet-client` certificate and key. */
  clientCert: { cert: string; key: string };
  intervalMs?: number;
  timeoutMs?: number;
  logger: Logger;
}

export class MetricsScraper {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private readonly failures = new Map<string, number>();

  constructor(private readonly o: MetricsScraperOptions) {}

  start(): void {
    const tick = () => {
      this.running = this.scrapeOnce().catch((err: unknown) => this.o.logger.debug({ err }, 'metrics scrape failed')).finally(() => {
        this.running = undefined;
        if (this.timer) this.timer = setTimeout(tick, this.o.intervalMs ?? 15_000);
      });
    };
    this.timer = setTimeout(tick, 0);
  }

  async stop(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    await this.running;
  }

  async scrapeOnce(): Promise<void> {
    const nodes = (await this.o.listNodes()) as Node[];
    const names = new Set(nodes.map(n => n.metadata?.name ?? ''));
    for (const known of this.o.metrics.knownNodes()) if (!names.has(known)) this.o.metrics.forgetNode(known);
    await Promise.all(nodes.map(async node => {
      const name = node.metadata?.name ?? '';
      try {
        const summary = await this.fetchSummary(node);
        this.failures.delete(name);
        this.o.metrics.ingest(summary, Date.now());
      } catch (err) {
        const n = (this.failures.get(name) ?? 0) + 1;
        this.failures.set(name, n);
        if (n >= 3) this.o.metrics.forgetNode(name);
        this.o.logger.debug({ node: name, err: String(err) }, 'kubelet summary unavailable');
      }
    }));
  }

  private fetchSummary(node: Node): Promise<Summary> {
    const { host, port } = kubeletAddress(node);
    return new Promise<Summary>((resolve, reject) => {
      const req = httpsRequest({
        host, port, path: '/stats/summary?only_cpu_and_memory=true', method: 'GET',
        cert: this.o.clientCert.cert, key: this.o.clientCert.key, rejectUnauthorized: false, agent: false,
        timeout: this.o.timeoutMs ?? 5_000,
      }, res => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => { body += c; });
        res.on('end', () => {
          if (res.statusCode !== 200) return reject(new Error(`kubelet answered ${String(res.statusCode)}: ${body.slice(0, 200)}`));
          try {
            const s = JSON.parse(body) as Summary;
            if (!s.node?.nodeName) return reject(new Error('summary without node.nodeName'));
            resolve(s);
          } catch (err) {
            reject(err instanceof Error ? err : new Error(String(err)));
          }
        });
      });
      req.on('timeout', () => req.destroy(new Error('timed out')));
      req.on('error', reject);
      req.end();
    });
  }
}
