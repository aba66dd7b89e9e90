/**
 * Robustness D8 on the real kernel, with the programmer's own loop (no manual hint): after a
 * write, someone deletes our jump from FORWARD (iptables) / one of our rules (nft); the post-write
 * checks (1 s, 2 s, 4 s …) put it back within seconds.
 *
 *   [ns n]  RulesProgrammer.start()  ─ write ─► kernel ◄─ `iptables -D FORWARD 1` / `nft delete rule`
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isDeepStrictEqual } from 'node:util';
import { Topology, topologySkipReason } from '../../helpers/netns.js';
import { pollUntil } from '../../helpers/poll.js';
import { kernelHashes, programmerIn, type BackendKind } from '../../helpers/rules.js';
import { buildRuleset, type RulesConfig } from '../../../felix/rules/desired-rules.js';
import { chainHashes } from '../../../felix/rules/rule-model.js';

const config: RulesConfig = { pools: [{ cidr: '10.65.0.0/16', natOutgoing: true }], nodeAddresses: ['192.168.1.2'],
  ipipEnabled: false, vxlanEnabled: true };
const skip = topologySkipReason('nft', 'iptables-restore', 'ipset');

for (const kind of ['nft', 'iptables'] as const satisfies readonly BackendKind[]) {
  test(`${kind}: the running loop repairs a deleted rule within seconds`, { skip }, async () => {
    const topo = new Topology(`s${kind.slice(0, 2)}`);
    const p = programmerIn(topo.ns('n'), kind, { families: [4], refreshIntervalMs: 90_000, postWriteCheckMs: 500 });
    const ns = `${topo.tag}-n`;
    try {
      p.setDesired(config);
      p.start();
      const want = Object.fromEntries(buildRuleset(config, 4).chains.map((c) => [c.name, chainHashes(c)]));
      await pollUntil(() => isDeepStrictEqual(kernelHashes(ns, kind, 4), want), { what: 'first write' });
      const jumpPresent = (): boolean => /^-A FORWARD -m comment --comment "tortie:[\w-]+" -j tortie-FORWARD$/m
        .test(topo.exec(ns, 'iptables-save', ['-t', 'filter']));
      if (kind === 'iptables') {
        topo.exec(ns, 'iptables', ['-D', 'FORWARD', '1']);
        assert.equal(jumpPresent(), false);
        await pollUntil(jumpPresent, { what: 'jump restored', timeoutMs: 10_000 });
      } else {
        const listed = JSON.parse(topo.exec(ns, 'nft', ['-j', '-a', 'list', 'chain', 'ip', 'tortie', 'FORWARD'])) as
          { nftables: Array<{ rule?: { handle: number } }> };
        const handle = listed.nftables.find((x) => x.rule !== undefined)?.rule?.handle;
        topo.exec(ns, 'nft', ['delete', 'rule', 'ip', 'tortie', 'FORWARD', 'handle', String(handle)]);
        assert.notDeepEqual(kernelHashes(ns, kind, 4), want);
      }
      await pollUntil(() => isDeepStrictEqual(kernelHashes(ns, kind, 4), want),
        { what: 'rules repaired by the post-write checks', timeoutMs: 10_000 });
    } finally {
      p.stop();
      await topo.cleanup();
    }
  });
}
