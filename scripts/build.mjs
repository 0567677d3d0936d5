// One build for the repository: type-check and emit every TypeScript package (tsc -b follows the
// project references), then each workspace's own bundling step in dependency order.
import { execFileSync } from 'node:child_process';

const run = (cmd, args) => execFileSync(cmd, args, { stdio: 'inherit' });
run('npx', ['tsc', '-b']);
run('npm', ['run', 'build', '--workspaces', '--if-present']);
