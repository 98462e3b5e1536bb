// The FIFO carbon cap holds plans to the same queue on FIFO, whatever orders are settled on: a
// simulated site settled on BL01 answers the cap's `counterfactual` baseline read with its FIFO twin
// (a new user found the cap 38 % looser than FIFO's emissions under --baseline bl01, because it read
// BL01). Real signed HTTP against a composed market's agent, with the provider's dispatch key.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { FileKeyStore } from '../../src/adapters/keystore-file/keystore.ts';
import { callSigned } from '../../src/agents/link.ts';
import { LINK_PATHS, versioned } from '../../src/agents/link-protocol.ts';
import { dispatchKeyId } from '../../src/compose/index.ts';
import { epochMs } from '../../src/domain/time.ts';
import { openMarket, type TestMarket } from '../helpers/market.ts';

let market: TestMarket;

before(async () => {
  market = await openMarket('counterfactual', { baseline: 'bl01' });
});

after(async () => {
  await market.stop();
});

test('under BL01 settlement, a counterfactual baseline read is the FIFO twin, a settlement read is BL01', async () => {
  const m = market.m;
  const keys = new FileKeyStore(join(m.runDir, '..', '..', 'keys'), false);
  const signer = await keys.signer(dispatchKeyId('dc.flexlon.local'));
  const url = `${m.urls.agent}${LINK_PATHS.baseline}`;
  // The evening peak and the night after: hours the twin and the usual day part on.
  const read = { fromMs: m.dayStart + 32 * 1_800_000, slots: 16 };
  const ask = (body: object) => callSigned<{ importKw: number[] }>(url, versioned(body), signer, Date.now);
  const settlement = (await ask(read)).importKw;
  const counterfactual = (await ask({ ...read, kind: 'counterfactual' })).importKw;
  const site = m.sites[0]!;
  const twin = await site.businessAsUsual.importKw({ start: epochMs(read.fromMs), slotMinutes: 30, slots: read.slots });
  assert.deepEqual(counterfactual, twin, 'the FIFO twin');
  assert.deepEqual((await ask({ ...read, kind: 'settlement' })).importKw, settlement, 'settlement is the default');
  assert.notDeepEqual(settlement, counterfactual, 'BL01 is not the twin');
  await assert.rejects(ask({ ...read, kind: 'fifo' }), /refused: HTTP 400 .*kind must be settlement or counterfactual/);
});
