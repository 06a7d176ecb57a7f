// The `k8ts` command: dispatches to one module per subcommand, loaded on demand so that
// `k8ts version` starts without loading the control plane.
const [command, ...args] = process.argv.slice(2);

// Native-module loaders (ffi-rs, detect-libc) call process.report.getReport() to tell glibc from
// musl; by default a report resolves every open socket's peer name synchronously, which blocks
// the whole process for 10 s per socket where DNS is unreachable (a node in a lab namespace).
(process.report as { excludeNetwork?: boolean }).excludeNetwork = true;

const usage = `usage: k8ts <command> [flags]

commands:
  server     run the control plane (apiserver, store, controllers, scheduler) and, unless --disable-agent, an agent
  agent      run a node: kubelet on containerd (--server URL --token T)
  proxy      compile Services into nftables rules on this node (--kubeconfig F; --dry-run prints them)
  images     images import FILE.tar: make an image archive available to the node's containerd
  lab        up|down|load|exec: a multi-node cluster in network namespaces on this machine
  conformance  the network conformance suite against a cluster (--kubeconfig F, --focus/--skip RE, --junit/--json F)
  install    install k8ts as a systemd service on this machine (--server URL --token T: as an agent)
  uninstall  stop and remove what install created (--keep-data keeps the data dir)
  killall    stop the services and remove containers, rules, interfaces and mounts (keeps files)
  status     this node: its unit, config modes, Ready condition and the kernel's proxy rules
  trace      --from POD --to SERVICE[:PORT]|IP:PORT: a packet's path from the node's kernel state, confirmed by nftrace
  version    print the version

server and agent also read /etc/k8ts/config.yaml (--config FILE): its keys are their flag names.
`;

/** The command line merged over the config file's flags; undefined (after a message) when the file is bad. */
async function configArgs(name: string): Promise<string[] | undefined> {
  const { ConfigFileError, loadConfigArgs } = await import('./config-file.js');
  try {
    return loadConfigArgs(args, process.env);
  } catch (err) {
    if (!(err instanceof ConfigFileError)) throw err;
    console.error(`k8ts ${name}: ${err.message}`);
    return undefined;
  }
}

async function main(): Promise<number> {
  switch (command) {
    case 'server': {
      const { runServer } = await import('./server.js');
      const withFile = await configArgs('server');
      return withFile ? runServer(withFile) : 2;
    }
    case 'agent': {
      const { runAgent } = await import('../agent/cli.js');
      const withFile = await configArgs('agent');
      return withFile ? runAgent(withFile) : 2;
    }
    case 'install':
    case 'uninstall':
    case 'killall': {
      const { runInstallCommand } = await import('./install.js');
      return runInstallCommand(command, args);
    }
    case 'proxy': {
      const { runProxy } = await import('../proxy/cli.js');
      return runProxy(args);
    }
    case 'images': {
      const { runImages } = await import('../agent/cli.js');
      return runImages(args);
    }
    case 'status': {
      const { runStatus } = await import('./status.js');
      return runStatus(args);
    }
    case 'trace': {
      const { runTrace } = await import('./trace/cli.js');
      return runTrace(args);
    }
    case 'conformance': {
      const { runConformanceCli } = await import('../conformance/cli.js');
      return runConformanceCli(args);
    }
    case 'lab': {
      const { runLab } = await import('../test-vm/lab/cli.js');
      return runLab(args);
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
