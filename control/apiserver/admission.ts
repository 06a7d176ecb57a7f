// Admission that needs the store: namespace lifecycle (no content in a namespace that does not
// exist or is terminating) and Service address allocation. ClusterIPs and NodePorts are reserved
// as keys of their own (`/registry/ranges/…/<value>`, value = owner), created with the store's
// create-if-absent, so two requests — or two servers on one etcd — can never get the same one.
// This is upstream's newer IPAddress-object design rather than its bitmap.
import { errors, field, type FieldError, StatusError } from '../../api/errors.js';
import type { KubeObject } from '../../api/object.js';
import { allocateClusterIP, allocateNodePort, canonicalIP, checkClusterIP, checkNodePort } from '../registry/allocators.js';
import type { RegistryContext, ResourceDef } from '../registry/types.js';
import { StoreError, type Store } from '../store/store.js';
import type { Admission } from './rest.js';
import type { ResourceStorage } from './storage.js';

const ipPrefix = '/registry/ranges/serviceips/';
const portPrefix = '/registry/ranges/servicenodeports/';

interface ServicePort { name?: string; port?: number; nodePort?: number; protocol?: string }
interface ServiceSpec {
  type?: string;
  clusterIP?: string;
  clusterIPs?: string[];
  ports?: ServicePort[];
  externalTrafficPolicy?: string;
  healthCheckNodePort?: number;
}

function isCoreKind(def: ResourceDef, resource: string): boolean {
  return def.group === '' && def.resource === resource;
}

function needsNodePorts(spec: ServiceSpec): boolean {
  return spec.type === 'NodePort' || spec.type === 'LoadBalancer';
}

function needsHealthCheckPort(spec: ServiceSpec): boolean {
  return spec.type === 'LoadBalancer' && spec.externalTrafficPolicy === 'Local';
}

export class StoreAdmission implements Admission {
  constructor(
    private readonly store: Store,
    private readonly ctx: RegistryContext,
    private readonly namespaces: ResourceStorage,
  ) {}

  async beforeCreate(def: ResourceDef, obj: KubeObject, dryRun: boolean): Promise<(() => Promise<void>) | void> {
    if (def.namespaced) await this.checkNamespaceOpen(obj.metadata?.namespace ?? '');
    if (isCoreKind(def, 'services')) return this.allocateService(obj, undefined, dryRun);
  }

  async beforeUpdate(def: ResourceDef, obj: KubeObject, old: KubeObject, dryRun: boolean): Promise<void> {
    if (isCoreKind(def, 'services')) await this.allocateService(obj, old, dryRun);
  }

  async afterUpdate(def: ResourceDef, obj: KubeObject): Promise<void> {
    if (isCoreKind(def, 'services')) await this.releaseUnused(obj);
  }

  async afterDelete(def: ResourceDef, obj: KubeObject): Promise<void> {
    if (isCoreKind(def, 'services')) await this.releaseUnused({ ...obj, spec: {} });
  }

  private async checkNamespaceOpen(namespace: string): Promise<void> {
    const ns = await this.namespaces.tryGet('', namespace);
    if (!ns) throw errors.notFound('namespaces', '', namespace);
    if (ns.metadata?.deletionTimestamp || (ns.status as { phase?: string } | undefined)?.phase === 'Terminating') {
      throw new StatusError(403, 'Forbidden', `${'unable to create new content in namespace'} ${namespace} because it is being terminated`, {
        causes: [{ reason: 'NamespaceTerminating', message: `namespace ${namespace} is being terminated`, field: 'metadata.namespace' }],
      });
    }
  }

  private owner(obj: KubeObject): string {
    return `${obj.metadata?.namespace ?? ''}/${obj.metadata?.name ?? ''}`;
  }

  /** Reserves `key` for `owner`; true if reserved now or already ours. */
  private async reserve(key: string, owner: string): Promise<boolean> {
    try {
      await this.store.create(key, owner);
      return true;
    } catch (err) {
      if (err instanceof StoreError && err.code === 'AlreadyExists') {
        const kv = await this.store.get(key);
        return kv?.value === owner;
      }
      throw err;
    }
  }

  private async used(prefix: string): Promise<Set<string>> {
    const { items } = await this.store.list(prefix);
    return new Set(items.map(kv => kv.key.slice(prefix.length)));
  }

  /**
   * Fills in and reserves the ClusterIP and NodePorts a Service needs. Returns a release
   * function for what was newly reserved, so a failed create gives them back.
   */
  private async allocateService(obj: KubeObject, old: KubeObject | undefined, dryRun: boolean): Promise<() => Promise<void>> {
    const spec = (obj.spec ?? {}) as ServiceSpec;
    obj.spec = spec;
    const owner = this.owner(obj);
    const reserved: string[] = [];
    const causes: FieldError[] = [];
    const release = async () => { for (const key of reserved) await this.store.delete(key).catch(() => undefined); };

    try {
      if (spec.type !== 'ExternalName' && spec.clusterIP !== 'None') {
        const requested = spec.clusterIP || spec.clusterIPs?.[0];
        const oldIP = (old?.spec as ServiceSpec | undefined)?.clusterIP;
        if (requested && requested === oldIP) {
          // unchanged on update: already ours
        } else if (requested) {
          const why = checkClusterIP(requested, this.ctx.serviceCIDR, new Set());
          const ip = canonicalIP(requested) ?? requested;
          if (why) causes.push(field.invalid('spec.clusterIPs', [requested], `failed to allocate IP ${requested}: ${why}`));
          else if (!dryRun && !(await this.reserveIP(ip, owner, reserved))) causes.push(field.invalid('spec.clusterIPs', [requested], `failed to allocate IP ${requested}: provided IP is already allocated`));
          spec.clusterIP = ip;
          spec.clusterIPs = [ip];
        } else {
          const ip = await this.allocateIP(owner, reserved, dryRun);
          if (!ip) causes.push(field.invalid('spec.clusterIPs', [], `failed to allocate IP: range is full`));
          else { spec.clusterIP = ip; spec.clusterIPs = [ip]; }
        }
      }

      const range = this.ctx.nodePortRange;
      const oldPorts = new Set(((old?.spec as ServiceSpec | undefined)?.ports ?? []).map(p => p.nodePort).filter((p): p is number => !!p));
      if (needsNodePorts(spec)) {
        for (const [i, port] of (spec.ports ?? []).entries()) {
          if (port.nodePort) {
            if (oldPorts.has(port.nodePort)) continue;
            const why = checkNodePort(port.nodePort, range, new Set());
            if (why) { causes.push(field.invalid(`spec.ports[${i}].nodePort`, port.nodePort, why)); continue; }
            // The same port number may serve two protocols of one Service.
            if (!dryRun && !(await this.reservePort(port.nodePort, owner, reserved))) causes.push(field.invalid(`spec.ports[${i}].nodePort`, port.nodePort, 'provided port is already allocated'));
          } else {
            const sameNumber = (spec.ports ?? []).find(p => p !== port && p.port === port.port && p.nodePort);
            const chosen = sameNumber?.nodePort ?? await this.allocatePort(owner, reserved, dryRun);
            if (!chosen) causes.push(field.invalid(`spec.ports[${i}].nodePort`, 0, 'range is full'));
            else port.nodePort = chosen;
          }
        }
      } else {
        for (const port of spec.ports ?? []) delete port.nodePort;
      }
      if (needsHealthCheckPort(spec)) {
        if (!spec.healthCheckNodePort) {
          const chosen = await this.allocatePort(owner, reserved, dryRun);
          if (chosen) spec.healthCheckNodePort = chosen;
        } else if (spec.healthCheckNodePort !== (old?.spec as ServiceSpec | undefined)?.healthCheckNodePort && !dryRun) {
          if (!(await this.reservePort(spec.healthCheckNodePort, owner, reserved))) causes.push(field.invalid('spec.healthCheckNodePort', spec.healthCheckNodePort, 'provided port is already allocated'));
        }
      } else {
        delete spec.healthCheckNodePort;
      }
    } catch (err) {
      await release();
      throw err;
    }
    if (causes.length > 0) {
      await release();
      throw errors.invalid('Service', '', obj.metadata?.name ?? '', causes);
    }
    return release;
  }

  private async reserveIP(ip: string, owner: string, reserved: string[]): Promise<boolean> {
    const key = ipPrefix + ip;
    const existed = await this.store.get(key);
    if (existed) return existed.value === owner;
    if (!(await this.reserve(key, owner))) return false;
    reserved.push(key);
    return true;
  }

  private async reservePort(port: number, owner: string, reserved: string[]): Promise<boolean> {
    const key = portPrefix + port;
    const existed = await this.store.get(key);
    if (existed) return existed.value === owner;
    if (!(await this.reserve(key, owner))) return false;
    reserved.push(key);
    return true;
  }

  private async allocateIP(owner: string, reserved: string[], dryRun: boolean): Promise<string | undefined> {
    for (let attempt = 0; attempt < 10; attempt++) {
      const used = await this.used(ipPrefix);
      const ip = allocateClusterIP(this.ctx.serviceCIDR, used);
      if (!ip || dryRun) return ip;
      if (await this.reserveIP(ip, owner, reserved)) return ip;
    }
    return undefined;
  }

  private async allocatePort(owner: string, reserved: string[], dryRun: boolean): Promise<number | undefined> {
    for (let attempt = 0; attempt < 10; attempt++) {
      const used = new Set([...(await this.used(portPrefix))].map(Number));
      const port = allocateNodePort(this.ctx.nodePortRange, used);
      if (!port || dryRun) return port;
      if (await this.reservePort(port, owner, reserved)) return port;
    }
    return undefined;
  }

  /** Gives back every reservation of this Service that its current spec no longer uses. */
  private async releaseUnused(obj: KubeObject): Promise<void> {
    const owner = this.owner(obj);
    const spec = (obj.spec ?? {}) as ServiceSpec;
    const keep = new Set<string>();
    if (spec.clusterIP && spec.clusterIP !== 'None') keep.add(ipPrefix + spec.clusterIP);
    for (const p of spec.ports ?? []) if (p.nodePort) keep.add(portPrefix + p.nodePort);
    if (spec.healthCheckNodePort) keep.add(portPrefix + spec.healthCheckNodePort);
    for (const prefix of [ipPrefix, portPrefix]) {
      const { items } = await this.store.list(prefix);
      for (const kv of items) {
        if (kv.value === owner && !keep.has(kv.key)) await this.store.delete(kv.key, kv.modRevision).catch(() => undefined);
      }
    }
  }
}
