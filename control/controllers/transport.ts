// Moved to api/client/https.ts (the one client factory); kept until every importer has moved.
export { HttpsTransport, clientFromKubeconfig, type HttpsTransportOptions } from '../../api/client/https.js';
