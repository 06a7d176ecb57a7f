// The `k8ts` command: dispatches to one module per subcommand, loaded on demand so that
// `k8ts version` starts without loading the control plane.
const [command, ...args] = process.argv.slice(2);

const usage = `usage: k8ts <command> [flags]

commands:
  server     run the control plane (apiserver, store, controllers, scheduler) and, unless --disable-agent, an agent
  agent      run a node: kubelet on containerd (--server URL --token T)
  proxy      compile Services into nftables rules on this node (--kubeconfig F; --dry-run prints them)
  images     images import FILE.tar: make an image archive available to the node's containerd
  version    print the version
`;

async function main(): Promise<number> {
  switch (command) {
    case 'server': {
      const { runServer } = await import('./server.js');
      return runServer(args);
    }
    case 'agent': {
      const { runAgent } = await import('../agent/cli.js');
      return runAgent(args);
    }
    case 'proxy': {
      const { runProxy } = await import('../proxy/cli.js');
      return runProxy(args);
    }
    case 'images': {
      const { runImages } = await import('../agent/cli.js');
      return runImages(args);
    }
    case 'version':
    case '--version':
      console.log('k8ts v0.1.0');
      return 0;
    case undefined:
    case 'help':
    case '--help':
    case '-h':
      process.stdout.write(usage);
      return command === undefined ? 2 : 0;
    default:
      console.error(`k8ts: unknown command "${command}"\n\n${usage}`);
      return 2;
  }
}

main().then(code => { process.exitCode = code; process.exit(code); }, (err: unknown) => { console.error(err); process.exit(1); });
