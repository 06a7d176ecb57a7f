// Entry point for running the agent on its own (`node dist/agent/main.js agent …` or
// `… images import …`) until cli/main.ts wires `k8ts agent` and `k8ts images`.
import { runAgent, runImages } from './cli.js';

const [cmd, ...rest] = process.argv.slice(2);
const code = cmd === 'images' ? await runImages(rest) : await runAgent(cmd === 'agent' ? rest : process.argv.slice(2));
process.exit(code);
