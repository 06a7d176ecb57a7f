// The lab's API forwarder: inherits a socket listening on 127.0.0.1 in the root network namespace
// as fd 3 (made by `k8ts lab up`), runs inside node 1's namespace (started with `nsenter --net`),
// and pipes every accepted connection to the apiserver there. So the host reaches the lab's API
// on loopback without an address, route or rule of the lab in its own namespace.
//
//   node forwarder.js TARGET_IP TARGET_PORT   (fd 3: the listening socket)
import { connect, createServer } from 'node:net';

const [host, portText] = process.argv.slice(2);
const port = Number(portText);
if (!host || !Number.isInteger(port)) {
  process.stderr.write('usage: forwarder.js TARGET_IP TARGET_PORT (with a listening socket as fd 3)\n');
  process.exit(2);
}

const server = createServer(client => {
  const upstream = connect({ host, port });
  client.pipe(upstream);
  upstream.pipe(client);
  client.on('error', () => upstream.destroy());
  upstream.on('error', () => client.destroy());
  client.on('close', () => upstream.destroy());
  upstream.on('close', () => client.destroy());
});
server.on('error', err => {
  process.stderr.write(`forwarder: ${err.message}\n`);
  process.exit(1);
});
server.listen({ fd: 3 }, () => process.stderr.write(`forwarding to ${host}:${port}\n`));
process.once('SIGTERM', () => process.exit(0));
process.once('SIGINT', () => process.exit(0));
