#!/usr/bin/env node
/**
 * tortiectl: calicoctl's command surface for Tortie. Start-up stays light: the datastore
 * (etcd3, zod, yaml) is only loaded by the commands that need it.
 */
import { Command, CommanderError } from 'commander';
import { readFileSync } from 'node:fs';
import type { Io } from './resource-commands.js';
import type { Connection } from './connect.js';

// grpc-js sets the TLS servername to the etcd IP and Node warns about it on every run; a CLI's
// stderr is for the user's errors only.
process.noDeprecation = true;

const io: Io = {
  out: (t) => { process.stdout.write(t); },
  err: (t) => { process.stderr.write(t); },
  stdinFd: 0,
};

async function withDatastore<T>(config: string | undefined, fn: (c: Connection) => Promise<T>): Promise<T> {
  const { openDatastore } = await import('./connect.js');
  const c = await openDatastore(config);
  try { return await fn(c); } finally { await c.close(); }
}

function version(): string {
  try {
    const pkg = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version?: string };
    return `v${pkg.version ?? '0.0.0'}`;
  } catch { return 'unknown'; }
}

const CONFIG = ['-c, --config <file>', 'CalicoAPIConfig file (default: DATASTORE_TYPE / ETCD_* environment)'] as const;

function build(setExit: (code: number) => void): Command {
  const program = new Command('tortiectl')
    .description('Manage Tortie (Calico-compatible) resources, IPAM and node status')
    .exitOverride()
    .configureOutput({ writeOut: (s) => io.out(s), writeErr: (s) => io.err(s) });

  for (const verb of ['apply', 'create', 'replace', 'delete'] as const) {
    const cmd = program.command(`${verb}${verb === 'delete' ? ' [kind] [names...]' : ''}`)
      .description(`${verb} resources from a file (multi-document YAML or JSON, "-" for stdin)`)
      .option('-f, --filename <file>', 'manifest file, or - for stdin')
      .option(...CONFIG)
      .option('--allow-version-mismatch', 'accepted for calicoctl compatibility');
    if (verb === 'create') cmd.option('--skip-exists', 'do not fail on resources that already exist');
    if (verb === 'delete') cmd.option('-s, --skip-not-exists', 'do not fail on resources that do not exist');
    cmd.action(async (...args: unknown[]) => {
      const opts = (verb === 'delete' ? args[2] : args[0]) as { filename?: string; config?: string; skipExists?: boolean; skipNotExists?: boolean };
      const rc = await import('./resource-commands.js');
      if (verb === 'delete' && opts.filename === undefined) {
        const kind = args[0] as string | undefined;
        if (kind === undefined) throw new (await import('./ctl-error.js')).CtlError('delete needs -f FILE or KIND NAME');
        await withDatastore(opts.config, (c) => rc.deleteByName(c.datastore, kind, args[1] as string[], opts.skipNotExists === true, io, c));
        return;
      }
      if (opts.filename === undefined) throw new (await import('./ctl-error.js')).CtlError(`${verb} needs -f FILE (or - for stdin)`);
      // Validate the whole file before connecting: a bad manifest never reaches the datastore.
      const resources = await rc.parseManifestFile(opts.filename, io);
      try {
        await withDatastore(opts.config, (c) => rc.fileVerb(c.datastore, verb, resources, io,
          { ...(opts.skipExists === undefined ? {} : { skipExists: opts.skipExists }), ...(opts.skipNotExists === undefined ? {} : { skipNotExists: opts.skipNotExists }), ipamGc: c }));
      } finally { resources.close(); }
    });
  }

  program.command('validate').description('validate a manifest without touching the datastore')
    .requiredOption('-f, --filename <file>', 'manifest file, or - for stdin')
    .action(async (opts: { filename: string }) => {
      const rc = await import('./resource-commands.js');
      const rs = await rc.parseManifestFile(opts.filename, io);
      rs.close();
      io.out(`Successfully validated ${rs.count} resource(s)\n`);
    });

  program.command('get <kind> [names...]').description('show resources (table, -o wide, -o yaml, -o json)')
    .option('-o, --output <format>', 'ps | wide | yaml | json', 'ps').option(...CONFIG).option('--allow-version-mismatch')
    .option('-n, --namespace <ns>', 'namespace of namespaced kinds (workloadendpoints)', 'default')
    .option('-A, --all-namespaces', 'every namespace')
    .action(async (kind: string, names: string[], opts: { output: string; config?: string; namespace: string; allNamespaces?: boolean }) => {
      const rc = await import('./resource-commands.js');
      const { resolveIpamKind, getIpamCmd } = await import('./ipam-resources.js');
      const ipamKind = resolveIpamKind(kind);
      if (ipamKind !== undefined) {
        await withDatastore(opts.config, (c) => getIpamCmd(c.store, ipamKind, names, opts.output, io, opts.allNamespaces === true ? undefined : opts.namespace));
        return;
      }
      rc.kindOrThrow(kind);
      await withDatastore(opts.config, (c) => rc.getCmd(c.datastore, kind, names, opts.output, io));
    });

  program.command('label <kind> <name> <label>').description('set (KEY=VALUE) or remove (KEY --remove) a label, as calicoctl label')
    .option('--overwrite', 'replace an existing value').option('--remove', 'remove the label KEY').option(...CONFIG).option('--allow-version-mismatch')
    .action(async (kind: string, name: string, label: string, opts: { overwrite?: boolean; remove?: boolean; config?: string }) => {
      const rc = await import('./resource-commands.js');
      rc.kindOrThrow(kind);
      await withDatastore(opts.config, (c) => rc.labelCmd(c.datastore, kind, name, label,
        { ...(opts.overwrite === undefined ? {} : { overwrite: opts.overwrite }), ...(opts.remove === undefined ? {} : { remove: opts.remove }) }, io));
    });

  program.command('patch <kind> <name>').description('merge a JSON patch into a resource')
    .requiredOption('-p, --patch <json>', 'JSON merge patch, e.g. \'{"spec":{"nodeToNodeMeshEnabled":false}}\'')
    .option('-t, --type <type>', 'merge | strategic', 'strategic').option(...CONFIG).option('--allow-version-mismatch')
    .action(async (kind: string, name: string, opts: { patch: string; type: string; config?: string }) => {
      const rc = await import('./resource-commands.js');
      rc.kindOrThrow(kind);
      await withDatastore(opts.config, (c) => rc.patchCmd(c.datastore, kind, name, opts.patch, opts.type, io));
    });

  const ipam = program.command('ipam').description('IP address management');
  ipam.command('show').description('pool and block usage, or who holds an IP')
    .option('--ip <ip>', 'show the allocation of one address').option('--show-blocks', 'add a row per block')
    .option('--show-borrowed', 'list addresses used by a node other than the block owner')
    .option('--show-configuration', 'show StrictAffinity and AutoAllocateBlocks').option(...CONFIG)
    .action(async (opts: { ip?: string; showBlocks?: boolean; showBorrowed?: boolean; showConfiguration?: boolean; config?: string }) => {
      const ic = await import('./ipam-commands.js');
      await withDatastore(opts.config, (c) => ic.ipamShow(c, { ...(opts.ip === undefined ? {} : { ip: opts.ip }),
        ...(opts.showBlocks === undefined ? {} : { showBlocks: opts.showBlocks }), ...(opts.showBorrowed === undefined ? {} : { showBorrowed: opts.showBorrowed }),
        ...(opts.showConfiguration === undefined ? {} : { showConfiguration: opts.showConfiguration }) }, io));
    });
  ipam.command('release').description('release one address, or every leaked one a check report found')
    .option('--ip <ip>', 'address to release')
    .option('--from-report <file>', 'release what the report (ipam check -o) calls leaked; repeat it to release only what every report calls leaked',
      (v: string, prev: string[] | undefined) => [...(prev ?? []), v])
    .option('--force', 'release even though the report came from another tortiectl version')
    .option(...CONFIG)
    .action(async (opts: { ip?: string; fromReport?: string[]; force?: boolean; config?: string }) => {
      const ic = await import('./ipam-commands.js');
      if (opts.fromReport !== undefined) {
        const files = opts.fromReport;
        await withDatastore(opts.config, (c) => ic.ipamReleaseFromReports(c, files, { force: opts.force === true, version: version() }, io));
        return;
      }
      const ip = opts.ip;
      if (ip === undefined) throw new (await import('./ctl-error.js')).CtlError('ipam release needs --ip IP or --from-report FILE');
      await withDatastore(opts.config, (c) => ic.ipamRelease(c, ip, io));
    });
  ipam.command('configure').description('set cluster-wide IPAM options')
    .option('--strictaffinity <bool>', 'never borrow addresses from another node\'s block')
    .option('--autoallocateblocks <bool>', 'claim new blocks on demand').option(...CONFIG)
    .action(async (opts: { strictaffinity?: string; autoallocateblocks?: string; config?: string }) => {
      const ic = await import('./ipam-commands.js');
      await withDatastore(opts.config, (c) => ic.ipamConfigure(c, opts, io));
    });
  ipam.command('split <number>').description('split an IP pool into <number> (a power of 2) smaller pools')
    .option('--cidr <cidr>', 'the pool to split, by CIDR').option('--name <name>', 'the pool to split, by name').option(...CONFIG)
    .action(async (number: string, opts: { cidr?: string; name?: string; config?: string }) => {
      const { ipamSplit } = await import('./ipam-split.js');
      await withDatastore(opts.config, (c) => ipamSplit(c, Number(number), { ...(opts.cidr === undefined ? {} : { cidr: opts.cidr }), ...(opts.name === undefined ? {} : { name: opts.name }) }, io));
    });
  ipam.command('check').description('report leaked or inconsistent IPAM data').option(...CONFIG)
    .option('-o, --output <file>', 'write the report (calicoctl\'s JSON) for ipam release --from-report')
    .action(async (opts: { config?: string; output?: string }) => {
      const ic = await import('./ipam-commands.js');
      await withDatastore(opts.config, (c) => ic.ipamCheck(c, io, { version: version(), ...(opts.output === undefined ? {} : { output: opts.output }) }));
    });

  const node = program.command('node').description('node commands');
  node.command('status').description('BGP peer status from the local tortie-node (--all: every node, from the datastore)')
    .option('--all', 'every node\'s sessions, as each tortie-node publishes them to the datastore')
    .option(...CONFIG)
    .action(async (opts: { all?: boolean; config?: string }) => {
      const ns = await import('./node-status.js');
      if (opts.all === true) setExit(await withDatastore(opts.config, (c) => ns.nodeStatusAll(io, c.store)));
      else setExit(await ns.nodeStatus(io));
    });

  program.command('version').description('print the version').action(() => {
    io.out(`Client Version:    ${version()}\nCluster Type:      etcdv3\n`);
  });
  return program;
}

async function main(argv: readonly string[]): Promise<number> {
  let code = 0;
  const program = build((c) => { code = c; });
  try {
    await program.parseAsync([...argv], { from: 'user' });
    return code;
  } catch (err) {
    if (err instanceof CommanderError) return err.exitCode === 0 ? 0 : 1;
    const e = err as Error & { code?: unknown };
    io.err(`${e.message ?? String(err)}\n`);
    if (process.env['TORTIE_DEBUG'] !== undefined && e.stack !== undefined) io.err(`${e.stack}\n`);
    return 1;
  }
}

main(process.argv.slice(2)).then((code) => process.exit(code), (err: unknown) => {
  process.stderr.write(`${String(err)}\n`);
  process.exit(1);
});
