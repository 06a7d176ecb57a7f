// `k8ts server`: the control plane in one process — store, apiserver (HTTPS), controllers (namespace
// deletion among them, under leader election), scheduler, DNS and an agent for this node.
// Startup is ordered so that a bad flag, an unreadable data dir or a busy port fails fast with a
// clear message and a non-zero exit, before anything is written.
import { accessSync, constants, mkdirSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { formatCidr } from '../api/cidr.js';
import { bootstrapCluster } from '../control/apiserver/bootstrap.js';
import { ensureClusterPki, hostIPv4Addresses, identities, writeKubeconfig } from '../control/apiserver/pki.js';
import { startControlPlane } from '../control/controllers/index.js';
import { ControlPlaneMetrics } from '../control/controllers/metrics.js';
import { ProxyMetrics } from '../proxy/metrics.js';
import { HttpsTransport } from '../api/client/https.js';
import { RestClusterClient } from '../api/client/rest.js';
import { buildApiServer } from '../control/apiserver/wiring.js';
import { DEFAULT_TOLERATION_SECONDS } from '../control/registry/core/podspec.js';
import { ensureServerTokens, createAuthenticator, authorizer } from '../control/apiserver/auth.js';
import { AutoCompactor } from '../control/store/compactor.js';
import { openStore } from '../control/store/open.js';
import type { Store } from '../control/store/store.js';
import { FlagError, parseServerFlags, serverUsage, type ServerConfig } from './server-flags.js';
import { createLogger } from './logger.js';

export async function runServer(argv: string[]): Promise<number> {
  let config: ServerConfig;
  try {
    config = parseServerFlags(argv, process.env);
  } catch (err) {
    if (err instanceof FlagError) {
      console.error(`k8ts server: ${err.message}`);
      return 2;
    }
    throw err;
  }
  if (config.help) {
    process.stdout.write(serverUsage());
    return 0;
  }
  const logger = createLogger(config.logFormat);
  try {
    return await serve(config, logger);
  } catch (err) {
    logger.fatal({ err }, `k8ts server failed: ${(err as Error).message}`);
    return 1;
  }
}

function checkDataDir(dir: string): void {
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    accessSync(dir, constants.R_OK | constants.W_OK | constants.X_OK);
  } catch (err) {
    throw new Error(`the data dir "${dir}" cannot be used: ${(err as Error).message}`);
  }
}

async function serve(config: ServerConfig, logger: Logger): Promise<number> {
  checkDataDir(config.dataDir);
  const serviceCIDR = formatCidr(config.serviceCidrs[0]!);
  const clusterCIDR = formatCidr(config.clusterCidrs[0]!);
  const pki = await ensureClusterPki({ dataDir: config.dataDir, serviceCidr: serviceCIDR, extraSans: config.tlsSans });
  const tokens = await ensureServerTokens(config.dataDir, pki.caHash, config.token);

  let store: Store | undefined;
  const stops: (() => Promise<void> | void)[] = [];
  try {
    store = await openStore(config.datastore);
    stops.push(() => store!.close());
    // Upstream compacts the store's history every 5 minutes; watches older than that get 410.
    const compactor = new AutoCompactor(store, { onError: err => logger.warn({ err }, 'compaction failed') });
    compactor.start();
    stops.push(() => compactor.stop());
    const hostIPs = hostIPv4Addresses();
    // The `kubernetes` Service's endpoint must be a routable address: the bind address when it is
    // one, else this host's first address (upstream refuses loopback advertise addresses too).
    const bindIsSpecific = config.bindAddress !== '0.0.0.0' && config.bindAddress !== '::' && !config.bindAddress.startsWith('127.') && config.bindAddress !== '::1';
    const advertiseIP = bindIsSpecific ? config.bindAddress : hostIPs[0];
    if (!advertiseIP) throw new Error('this host has no non-loopback IPv4 address to advertise as the `kubernetes` Service endpoint; bring up an interface with one, or pass --bind-address with one');
    const api = buildApiServer({
      store,
      ctx: {
        serviceCIDR,
        clusterCIDR,
        nodePortRange: { min: config.serviceNodePortRange.base, max: config.serviceNodePortRange.base + config.serviceNodePortRange.size - 1 },
        now: () => new Date(),
        defaultTolerationSeconds: { notReady: config.defaultNotReadyTolerationSeconds ?? DEFAULT_TOLERATION_SECONDS, unreachable: config.defaultUnreachableTolerationSeconds ?? DEFAULT_TOLERATION_SECONDS },
      },
      tls: { key: pki.serving.keyPem, cert: pki.serving.certPem, ca: pki.ca.certPem },
      kubeletClient: await pki.ensureClientCert('apiserver-kubelet-client', { commonName: 'kube-apiserver-kubelet-client', organizations: ['system:masters'] }).then(c => ({ cert: c.certPem, key: c.keyPem })),
      ...(config.metricResolutionMs !== undefined ? { metricResolutionMs: config.metricResolutionMs } : {}),
      authenticator: createAuthenticator(tokens),
      authorizer,
      logger: logger.child({ component: 'apiserver' }),
      advertiseAddress: `${advertiseIP}:${config.httpsPort}`,
    });
    try {
      await api.listen(config.bindAddress, config.httpsPort);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'EADDRINUSE') throw new Error(`port ${config.httpsPort} on ${config.bindAddress} is already in use (--https-port)`);
      if (code === 'EADDRNOTAVAIL') throw new Error(`address ${config.bindAddress} is not on this machine (--bind-address)`);
      throw err;
    }
    stops.push(() => api.close());
    await bootstrapCluster(api, serviceCIDR, advertiseIP, config.httpsPort);

    const host = config.bindAddress === '0.0.0.0' ? '127.0.0.1' : config.bindAddress.includes(':') ? `[${config.bindAddress}]` : config.bindAddress;
    const serverURL = `https://${host}:${config.httpsPort}`;

    // Controllers and scheduler talk to the apiserver over HTTPS with their own identities, as
    // they would from another process; leader election keeps two servers from both acting.
    if (!config.disableControllerManager || !config.disableScheduler) {
      const cm = await pki.ensureClientCert('controller-manager', identities.controllerManager);
      const sc = await pki.ensureClientCert('scheduler', identities.scheduler);
      const controlPlane = await startControlPlane({
        server: serverURL,
        caPem: pki.ca.certPem,
        controllerManager: { cert: cm.certPem, key: cm.keyPem },
        scheduler: { cert: sc.certPem, key: sc.keyPem },
        clusterCidr: clusterCIDR,
        enableControllers: !config.disableControllerManager,
        controllers: config.controllers,
        hpa: {
          ...(config.hpaSyncPeriodMs !== undefined ? { syncPeriodMs: config.hpaSyncPeriodMs } : {}),
          ...(config.hpaDownscaleStabilizationMs !== undefined ? { downscaleStabilizationMs: config.hpaDownscaleStabilizationMs } : {}),
          ...(config.hpaTolerance !== undefined ? { tolerance: config.hpaTolerance } : {}),
        },
        ...(config.nodeMonitorGracePeriodMs || config.nodeMonitorPeriodMs ? { nodeLifecycle: { ...(config.nodeMonitorGracePeriodMs ? { gracePeriodMs: config.nodeMonitorGracePeriodMs } : {}), ...(config.nodeMonitorPeriodMs ? { monitorPeriodMs: config.nodeMonitorPeriodMs } : {}) } } : {}),
        ...(config.terminatedPodGCThreshold !== undefined ? { podGC: { terminatedPodThreshold: config.terminatedPodGCThreshold } } : {}),
        enableScheduler: !config.disableScheduler,
        // Workqueue and scheduler metrics on the apiserver's /metrics (one process, one registry).
        metrics: new ControlPlaneMetrics(api.metrics),
        logger: logger.child({ component: 'controller-manager' }),
      });
      stops.push(() => controlPlane.stop());
    }
    // Written by rename: agents, labs and users poll for this file and must never read it half-written.
    await writeKubeconfig(config.writeKubeconfig, serverURL, pki.ca.certPem, pki.admin.certPem, pki.admin.keyPem);
    api.setReady(true);
    logger.info({ url: serverURL, kubeconfig: config.writeKubeconfig, datastore: config.datastore.kind, dataDir: config.dataDir }, 'k8ts server is ready');

    // The node this server runs on, as k3s does: its own agent, joining over the API like any other.
    if (!config.disableAgent) {
      const { startAgent } = await import('../agent/cli.js');
      const { parseNetworkMode } = await import('../agent/network.js');
      const { ProxyDaemon } = await import('../proxy/daemon.js');
      const nodeName = config.nodeName ?? hostname().toLowerCase();
      const agent = await startAgent({
        server: serverURL, token: tokens.joinToken, ca: pki.ca.certPem,
        nodeName, dataDir: join(config.dataDir, 'agent'),
        clusterDNS: [config.clusterDns], clusterDomain: config.clusterDomain,
        clusterCIDR,
        ...(config.network ? { network: parseNetworkMode(config.network) } : {}),
        ...(config.cniConfDir ? { cniConfDir: config.cniConfDir } : {}),
        ...(config.cniBinDirs ? { cniBinDirs: config.cniBinDirs } : {}),
        ...(config.podLogDir ? { podLogDir: config.podLogDir } : {}),
        ...(config.netnsPrefix ? { netnsPrefix: config.netnsPrefix } : {}),
        ...(config.proxyMetricsBindAddress ? { proxyMetricsBindAddress: config.proxyMetricsBindAddress } : {}),
        log: logger.child({ component: 'agent' }),
      });
      stops.push(() => agent.stop());

      // This node's kube-proxy, as `system:kube-proxy`.
      const kp = await pki.ensureClientCert('kube-proxy', identities.kubeProxy);
      const proxyTransport = new HttpsTransport({ server: serverURL, ca: pki.ca.certPem, cert: kp.certPem, key: kp.keyPem, userAgent: 'k8ts-proxy' });
      const proxyLog = logger.child({ component: 'proxy' });
      const proxy = new ProxyDaemon({
        client: new RestClusterClient(proxyTransport), nodeName, clusterCIDR, serviceCIDR,
        // Served with the agent's netplugin metrics on kube-proxy's metrics address (127.0.0.1:10249).
        metrics: new ProxyMetrics(agent.networkMetrics),
        ...(config.proxyMode ? { mode: config.proxyMode } : {}),
        log: (level, msg, fields = {}) => proxyLog[level](fields, msg),
      });
      await proxy.start();
      stops.push(async () => { await proxy.stop({ cleanup: false }); proxyTransport.close(); });

      // Cluster DNS on this node, reached at the cluster DNS Service IP through the proxy's rules.
      const { startClusterDns, ensureKubeDnsService } = await import('../addons/dns/index.js');
      // The DNS server reads with its own read-only identity; the kube-dns Service is the
      // server's to create (as k3s applies its manifest), with the controller manager's.
      const dnsCert = await pki.ensureClientCert('cluster-dns', identities.clusterDns);
      const dnsTransport = new HttpsTransport({ server: serverURL, ca: pki.ca.certPem, cert: dnsCert.certPem, key: dnsCert.keyPem, userAgent: 'k8ts-dns' });
      const dnsClient = new RestClusterClient(dnsTransport);
      const cmCert = await pki.ensureClientCert('controller-manager', identities.controllerManager);
      const setupTransport = new HttpsTransport({ server: serverURL, ca: pki.ca.certPem, cert: cmCert.certPem, key: cmCert.keyPem, userAgent: 'k8ts-server' });
      const dns = await startClusterDns({
        client: dnsClient, host: advertiseIP, port: 53,
        clusterDomain: config.clusterDomain, clusterDnsIPs: [config.clusterDns], resolvConf: '/etc/resolv.conf',
        onError: err => logger.warn({ err }, 'cluster DNS'),
      });
      stops.push(async () => { await dns.stop(); dnsTransport.close(); });
      try {
        await ensureKubeDnsService(new RestClusterClient(setupTransport), { clusterIP: config.clusterDns, endpointIPs: [advertiseIP], port: 53 });
      } finally {
        setupTransport.close();
      }
    }

    const signal = await new Promise<NodeJS.Signals>(resolve => {
      process.once('SIGTERM', () => resolve('SIGTERM'));
      process.once('SIGINT', () => resolve('SIGINT'));
    });
    logger.info({ signal }, 'shutting down');
    return 0;
  } finally {
    for (const stop of stops.reverse()) {
      try { await stop(); } catch (err) { logger.warn({ err }, 'shutdown step failed'); }
    }
  }
}
