// `appdefender server plan EMAIL [PLAN]`: an operator's command. Plans (free, paid...) are rows of
// the control plane's store and there is no billing here, so whoever runs the control plane moves
// an account between them, directly in the store the server uses. The server reads an account's
// plan at every request, so the change applies at once, running server or not.
import { existsSync, readdirSync } from 'node:fs';
import type { Command } from 'commander';
import { type CliDeps, type CommandContext, commandContext } from '../context.js';
import { NotFoundError, UsageError } from '../errors.js';
import { loadServerModule } from '../local/sibling-packages.js';
import { storeLocation } from '../local/store-location.js';

export function registerServerPlanCommand(server: Command, deps: CliDeps): void {
  server
    .command('plan')
    .description("show or change an account's plan, in the control plane's store (an operator task)")
    .argument('<email>', "the account's e-mail address")
    .argument('[plan]', 'the plan to move it to; without it, shows its plan and the plans there are')
    .option('--data <dir>', 'SQLite data directory (default ~/.appdefender/data)')
    .option('--database-url <url>', 'PostgreSQL URL instead of SQLite (env DATABASE_URL)')
    .addHelpText(
      'after',
      `
Examples:
  $ appdefender server plan dev@example.com
  $ appdefender server plan dev@example.com paid
  $ appdefender server plan dev@example.com free --database-url postgres://appdefender@db:5432/appdefender`,
    )
    .action(async (email: string, plan: string | undefined, _options, command: Command) => {
      const ctx = await commandContext(command, deps);
      await planCommand(ctx, email, plan);
    });
}

async function planCommand(ctx: CommandContext, emailArgument: string, planName: string | undefined) {
  const { out } = ctx;
  // accounts are stored with the address as signed up, trimmed and lower-cased
  const email = emailArgument.trim().toLowerCase();
  if (!email.includes('@')) throw new UsageError(`"${emailArgument}" is not an e-mail address`);
  const location = storeLocation(ctx);
  if (location.dataDir && (!existsSync(location.dataDir) || readdirSync(location.dataDir).length === 0)) {
    // opening would create an empty store here, which cannot hold the account
    throw new NotFoundError(`There is no control plane store in ${location.dataDir}`, {
      hint: 'Give the directory `appdefender server` runs with: --data DIR (or --database-url URL)',
    });
  }
  const { openStorage } = await loadServerModule();
  const store = await openStorage(location);
  try {
    const plans = await store.listPlans();
    const account = await store.findAccountByEmail(email);
    if (!account) throw new NotFoundError(`No account with the e-mail address ${email}`);
    const known = plans.map((p) => p.name).filter((name) => name !== 'temporary');
    if (planName === undefined) {
      if (out.json) out.printJson({ email, plan: account.plan, plans: known });
      else {
        out.line(`${email} is on the ${out.style.bold(account.plan)} plan`);
        for (const p of plans.filter(({ name }) => name !== 'temporary')) {
          const cloud = p.allowCloudProviderTraffic
            ? 'allowCloudProviderTraffic'
            : 'no allowCloudProviderTraffic';
          out.line(`  ${p.name.padEnd(8)} events kept ${p.retentionDays} days, ${cloud}`);
        }
      }
      return;
    }
    if (!known.includes(planName)) {
      throw new UsageError(`There is no plan "${planName}"; the plans are ${known.join(', ')}`);
    }
    const previous = account.plan;
    if (previous !== planName) await store.setAccountPlan(account.id, planName);
    if (out.json) out.printJson({ email, plan: planName, previous });
    else if (previous === planName) out.line(`${email} is already on the ${planName} plan`);
    else out.line(`${email}: ${previous} -> ${out.style.bold(planName)} (applies to the next request)`);
  } finally {
    await store.close();
  }
}
