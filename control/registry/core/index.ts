// Every resource of the core group (`/api/v1`), in discovery order.
import type { ResourceDef } from '../types.js';
import { configmaps } from './configmaps.js';
import { endpoints } from './endpoints.js';
import { events } from './events.js';
import { namespaces } from './namespaces.js';
import { nodes } from './nodes.js';
import { persistentvolumeclaims, persistentvolumes } from './persistentvolumes.js';
import { pods } from './pods.js';
import { podtemplates } from './podtemplates.js';
import { replicationcontrollers } from './replicationcontrollers.js';
import { secrets } from './secrets.js';
import { serviceaccounts } from './serviceaccounts.js';
import { services } from './services.js';

export const coreResources: ResourceDef[] = [
  configmaps, endpoints, events, namespaces, nodes, persistentvolumeclaims, persistentvolumes, pods, podtemplates, replicationcontrollers, secrets, serviceaccounts, services,
];

export { configmaps, endpoints, events, namespaces, nodes, persistentvolumeclaims, persistentvolumes, pods, podtemplates, replicationcontrollers, secrets, serviceaccounts, services };
