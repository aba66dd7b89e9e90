/**
 * Both backends against a fake `exec`: the exact commands they run (and nothing else), the
 * stdin they feed, and how tool failures map to typed errors (RulesApplyError / RulesReadError).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { silentLogger } from '../../../common/logger.js';
import { RulesApplyError, RulesReadError } from '../../../felix/rules/errors.js';
import type { Exec, ExecResult } from '../../../felix/rules/exec.js';
import { IptablesBackend } from '../../../felix/rules/iptables-backend.js';
import { NftBackend } from '../../../felix/rules/nft-backend.js';
import { buildRuleset } from '../../../felix/rules/desired-rules.js';
import { emptyKernelState, planWrite } from '../../../felix/rules/rules-backend.js';

interface Call { cmd: string; args: readonly string[]; stdin: string | undefined }

function fakeExec(reply: (c: Call) => Partial<ExecResult>): { exec: Exec; calls: Call[] } {
  const calls: Call[] = [];
  const exec: Exec = async (cmd, args, stdin) => {
    const c = { cmd, args, stdin };
    calls.push(c);
    return { code: 0, stdout: '', stderr: '', ...reply(c) };
  };
  return { exec, calls };
}

const rs = buildRuleset({ pools: [{ cidr: '10.65.0.0/16', natOutgoing: true }], nodeAddresses: ['192.168.1.2'],
  ipipEnabled: false, vxlanEnabled: true }, 4);

test('nft: a missing table reads as empty; a write is one `nft -f -`; failures are typed', async () => {
  const { exec, calls } = fakeExec((c) => c.args.includes('list')
    ? { code: 1, stderr: 'Error: No such file or directory\nlist table ip tortie\n' } : {});
  const b = new NftBackend({ exec, logger: silentLogger() });
  const state = await b.read(4);
  assert.equal(state.chains.size + state.sets.size, 0);
  await b.write(planWrite(rs, state, false));
  assert.deepEqual(calls.map((c) => [c.cmd, ...c.args]), [['nft', '-j', 'list', 'table', 'ip', 'tortie'], ['nft', '-f', '-']]);
  assert.match(calls[1]?.stdin ?? '', /^table ip tortie \{/);

  const bad = new NftBackend({ exec: fakeExec(() => ({ code: 1, stderr: 'Error: Could not process rule: Operation not permitted' })).exec,
    logger: silentLogger() });
  await assert.rejects(bad.write(planWrite(rs, emptyKernelState, false)),
    (e: unknown) => e instanceof RulesApplyError && e.exitCode === 1 && /Operation not permitted/.test(e.message) && e.code === 'rules-apply-failed');
  await assert.rejects(bad.read(4), (e: unknown) => e instanceof RulesReadError && e.code === 'rules-read-failed');
  const garbage = new NftBackend({ exec: fakeExec(() => ({ stdout: '{"nftables": 3' })).exec, logger: silentLogger() });
  await assert.rejects(garbage.read(4), (e: unknown) => e instanceof RulesReadError && /unparseable/.test(e.message));
  const missing = new NftBackend({ exec: fakeExec(() => ({ code: 127, stderr: 'nft: spawn ENOENT' })).exec, logger: silentLogger() });
  await assert.rejects(missing.write(planWrite(rs, emptyKernelState, false)), /ENOENT/);
});

test('iptables: ipset restore, then one restore per table with --noflush --wait; legacy mode picks legacy tools', async () => {
  const { exec, calls } = fakeExec(() => ({}));
  const b = new IptablesBackend({ exec, logger: silentLogger(), mode: 'legacy', lockWaitSeconds: 7 });
  await b.read(6);
  await b.write(planWrite(rs, emptyKernelState, true));
  assert.deepEqual(calls.map((c) => [c.cmd, ...c.args].join(' ')), [
    'ip6tables-legacy-save', 'ipset save',
    'ipset restore -exist', 'iptables-legacy-restore --noflush --wait 7', 'iptables-legacy-restore --noflush --wait 7',
  ]);
  assert.match(calls[3]?.stdin ?? '', /^\*filter\n/);
  assert.match(calls[4]?.stdin ?? '', /^\*nat\n/);

  const lock = fakeExec((c) => c.cmd.endsWith('-restore')
    ? { code: 4, stderr: "Can't lock /run/xtables.lock: Resource temporarily unavailable" } : {});
  await assert.rejects(new IptablesBackend({ exec: lock.exec, logger: silentLogger() }).write(planWrite(rs, emptyKernelState, true)),
    (e: unknown) => e instanceof RulesApplyError && e.exitCode === 4 && e.command === 'iptables-restore --noflush --wait 10');
  // One `ipset save` for all sets; only ours (tortie4 0…) are parsed, others' elements are never looked at.
  const junkSet = fakeExec((c) => c.args[0] === 'save' ? { stdout: 'create other hash:ip family inet\nadd other whatever\n'
    + 'create tortie40all-hosts-net hash:ip family inet\nadd tortie40all-hosts-net not-an-ip\n' } : {});
  await assert.rejects(new IptablesBackend({ exec: junkSet.exec, logger: silentLogger() }).read(4),
    (e: unknown) => e instanceof RulesReadError && /ipset save \(tortie40all-hosts-net\)/.test(e.message));
  const fine = fakeExec((c) => c.args[0] === 'save' ? { stdout: 'create other hash:ip family inet\nadd other whatever\n'
    + 'create tortie40all-hosts-net hash:ip family inet\nadd tortie40all-hosts-net 10.0.0.1\ncreate tortie40all-ipam-pools hash:net family inet\n' } : {});
  const read = await new IptablesBackend({ exec: fine.exec, logger: silentLogger() }).read(4);
  assert.deepEqual([...read.sets].map(([n, e]) => [n, [...e]]), [['all-hosts-net', ['10.0.0.1']], ['all-ipam-pools', []]]);
});
