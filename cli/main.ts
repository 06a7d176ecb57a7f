// The `k8ts` command: dispatches to one module per subcommand.
const [command] = process.argv.slice(2);

async function main(): Promise<number> {
  switch (command) {
    case 'version':
    case '--version':
      console.log('k8ts v0.1.0');
      return 0;
    default:
      console.error(`k8ts: unknown command "${command ?? ''}"\nusage: k8ts server [flags] | k8ts version`);
      return 2;
  }
}

main().then(code => { process.exitCode = code; }, (err: unknown) => { console.error(err); process.exitCode = 1; });
