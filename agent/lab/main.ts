#!/usr/bin/env node
/**
 * tortie-lab: a small Tortie cluster in network namespaces on this machine.
 *   tortie-lab up [--nodes N] [--pods P] [--tor frr|bird] [--encap vxlan|udp]   build it, ping matrix, exit 1 on any loss
 *   tortie-lab check                                        the ping matrix again
 *   tortie-lab status                                       nodes, BGP sessions, routes
 *   tortie-lab restart NODE [--kill] [--upgrade [DIST]]    restart one agent; lost packets, withdrawals, re-convergence
 *   tortie-lab fail NODE link|freeze|drop                   kill a node (lab-fail.ts); `heal NODE` undoes it
 *   tortie-lab fail-tor 1|2, heal-tor 1|2                   a ToR of a dual-ToR lab (`up --tors 2`) down / up
 *   tortie-lab down                                         remove everything (idempotent)
 * Progress and results are plain lines on stdout; errors on stderr with exit 1.
 */
import { Command, CommanderError, InvalidArgumentError } from 'commander';
import { TortieError, describeError } from '../../common/errors.js';
import { down, up, type Progress } from './lab.js';
import { check, requireState, status } from './lab-report.js';
import { resolve } from 'node:path';
import type { LabEncap, TorKind } from './lab-plan.js';
import { findNode, formatRestart, restartNode } from './lab-restart.js';
import { FAIL_MODES, failNode, failTor, healNode, healTor, type FailMode } from './lab-fail.js';

process.noDeprecation = true;
// `tortie-lab status | head`: a closed stdout ends the output, not the process with a stack.
process.stdout.on('error', (err: NodeJS.ErrnoException) => { if (err.code !== 'EPIPE') throw err; });

const say: Progress = (line) => { process.stdout.write(`${line}\n`); };

function int(name: string) {
  return (v: string): number => {
    const n = Number(v);
    if (!Number.isInteger(n)) throw new InvalidArgumentError(`${name} must be an integer, got ${JSON.stringify(v)}`);
    return n;
  };
}

interface Common { stateDir: string; prefix: string }

function build(setExit: (code: number) => void): Command {
  const program = new Command('tortie-lab')
    .description('A Tortie cluster in network namespaces: etcd, a ToR (FRR or BIRD), tortie-node per node, pods via the CNI plugin')
    .option('--state-dir <dir>', 'pid files, logs, sockets and lab.json', '/run/tortie-lab')
    .option('--prefix <name>', 'prefix of every namespace name', 'tortie')
    .exitOverride();
  const opts = (): Common => program.opts<Common>();

  program.command('up')
    .description('build the lab, then print the ping matrix and route kinds; exit 1 unless every pod reaches every pod')
    .option('-n, --nodes <n>', 'number of nodes (split over two subnets)', int('--nodes'), 3)
    .option('-p, --pods <n>', 'pods per node', int('--pods'), 2)
    .option('--tor <kind>', 'ToR BGP router: frr or bird', 'frr')
    .option('--encap <kind>', 'cross-subnet encapsulation: vxlan (kernel) or udp (the userspace UDP backend)', 'vxlan')
    .option('--no-bfd', 'no BFD (default: 100 ms x 3 on the mesh and towards the ToR)')
    .option('--tors <n>', 'ToRs: 1, or 2 (a second uplink per node, and 10.200.0.0/24 behind both: ECMP on every node)', int('--tors'), 1)
    .option('--converge-timeout <ms>', 'how long to wait for every pod to reach every pod', int('--converge-timeout'), 60_000)
    .action(async (o: { nodes: number; pods: number; tor: string; encap: string; bfd: boolean; tors: number; convergeTimeout: number }) => {
      const c = opts();
      let state;
      try {
        state = await up({ prefix: c.prefix, stateDir: c.stateDir, nodes: o.nodes, podsPerNode: o.pods, tor: o.tor as TorKind, encap: o.encap as LabEncap, bfd: o.bfd,
          ...(o.tors !== 1 ? { tors: o.tors as 1 | 2 } : {}) }, say);
      } catch (err) {
        if (err instanceof TortieError && (err.code === 'lab-exists' || err.code === 'lab-options' || err.code === 'lab-root' || err.code === 'lab-tools' || err.code === 'lab-build')) throw err;
        throw new TortieError('lab-up', `${describeError(err)}\nwhat was made is left for inspection (logs under ${c.stateDir}); \`tortie-lab down\` removes it`, { cause: err });
      }
      say('waiting for routes to converge (every pod reaches every pod)...');
      const deadline = Date.now() + o.convergeTimeout;
      let report = await check(state, () => {});
      while (report.failed.length + report.unconverged.length > 0 && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 500));
        report = await check(state, () => {});
      }
      const final = await check(state, say);
      setExit(final.failed.length === 0 ? 0 : 1);
      if (final.failed.length === 0) say('lab is up: `tortie-lab status`, `tortie-lab check`, `tortie-lab down`');
    });

  program.command('check')
    .description('ping every pod from every pod; exit 1 on any failure')
    .action(async () => {
      const report = await check(requireState(opts().stateDir), say);
      setExit(report.failed.length === 0 ? 0 : 1);
    });

  program.command('status')
    .description('nodes, BGP sessions (each node and the ToR) and the agent routes')
    .action(async () => {
      setExit((await status(requireState(opts().stateDir), say)) ? 0 : 1);
    });

  program.command('restart <node>')
    .description('restart one node\'s tortie-node (SIGTERM, start) while pods ping on every node pair; report lost packets, routes withdrawn and the time to re-converge')
    .option('--kill', 'SIGKILL instead of SIGTERM (a crash)')
    .option('--upgrade [dist]', 'SIGTERM, then start a newly built agent: DIST/agent/node/main.js (default: this build\'s)')
    .option('--strict', 'exit 1 if any packet was lost or any route withdrawn')
    .action(async (name: string, o: { kill?: boolean; upgrade?: string | boolean; strict?: boolean }) => {
      const state = requireState(opts().stateDir);
      if (o.kill === true && o.upgrade !== undefined) throw new TortieError('lab-options', '--kill and --upgrade exclude each other', { where: 'restart' });
      const mode = o.kill === true ? 'kill' : o.upgrade !== undefined ? 'upgrade' : 'term';
      const report = await restartNode(state, findNode(state, name), {
        mode, ...(typeof o.upgrade === 'string' ? { upgradeMain: resolve(o.upgrade, 'agent/node/main.js') } : {}),
      }, say);
      say(formatRestart(report));
      const clean = report.lostPackets === 0 && report.withdrawnOnTor === 0 && Object.values(report.withdrawnOnNodes).every((c) => c === 0);
      setExit(o.strict === true && !clean ? 1 : 0);
    });

  program.command('fail <node> <how>')
    .description(`make a node die for the others: ${FAIL_MODES.join('|')} (its ToR port off the bridge | its agent and tortie-bfd SIGSTOPped | its uplink traffic dropped by nft)`)
    .action((name: string, how: string) => {
      const state = requireState(opts().stateDir);
      if (!(FAIL_MODES as readonly string[]).includes(how)) throw new TortieError('lab-options', `must be ${FAIL_MODES.join(', ')}, got ${JSON.stringify(how)}`, { where: 'fail <how>' });
      const n = findNode(state, name);
      failNode(state, n, how as FailMode);
      say(`${n.name}: ${how} (\`tortie-lab heal ${n.name}\` undoes it)`);
    });

  program.command('heal <node>')
    .description('undo every `fail` on a node')
    .action((name: string) => {
      const state = requireState(opts().stateDir);
      const n = findNode(state, name);
      const undone = healNode(state, n);
      say(undone.length === 0 ? `${n.name}: nothing to heal` : `${n.name}: healed ${undone.join(', ')}`);
    });

  const torIndex = (v: string): 1 | 2 => {
    const n = v.replace(/^tor/, '');
    if (n !== '1' && n !== '2') throw new TortieError('lab-options', `must be 1, 2, tor1 or tor2, got ${JSON.stringify(v)}`, { where: 'TOR' });
    return n === '1' ? 1 : 2;
  };
  program.command('fail-tor <tor>')
    .description('a ToR of a dual-ToR lab dies (every link of its namespace down); the nodes narrow their ECMP routes to the other one')
    .action((t: string) => {
      const tor = torIndex(t);
      const downed = failTor(requireState(opts().stateDir), tor);
      say(`tor${tor}: links ${downed.join(' ')} down (\`tortie-lab heal-tor ${tor}\` undoes it)`);
    });

  program.command('heal-tor <tor>')
    .description('a failed ToR\'s links up again')
    .action((t: string) => {
      const tor = torIndex(t);
      say(`tor${tor}: links ${healTor(requireState(opts().stateDir), tor).join(' ')} up`);
    });

  program.command('down')
    .description('remove every namespace, process and file the lab made (safe to repeat)')
    .action(async () => {
      await down(opts().stateDir, opts().prefix, say);
    });
  return program;
}

async function main(): Promise<number> {
  let code = 0;
  const program = build((c) => { code = c; });
  try {
    await program.parseAsync(process.argv);
    return code;
  } catch (err) {
    if (err instanceof CommanderError) return err.exitCode;
    process.stderr.write(`tortie-lab: ${describeError(err)}\n`);
    if (process.env['TORTIE_DEBUG'] === '1' && err instanceof Error) process.stderr.write(`${err.stack ?? ''}\n`);
    return 1;
  }
}

process.exitCode = await main();
