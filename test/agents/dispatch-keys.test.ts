// A BPP signs dispatches to its agents with a key of its own, not its Beckn key (issue 14 finding 6):
// callback URLs come from an open registry, so anything the BPP signs for the network could otherwise
// be replayed to an agent as a trusted dispatch. Real signed HTTP against a composed market's agent.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { FileKeyStore } from '../../src/adapters/keystore-file/keystore.ts';
import { callSigned } from '../../src/agents/link.ts';
import { LINK_PATHS, versioned } from '../../src/agents/link-protocol.ts';
import { dispatchKeyId } from '../../src/compose/index.ts';
import { openMarket, type TestMarket } from '../helpers/market.ts';

let market: TestMarket;

before(async () => {
  market = await openMarket('dispatchkeys');
});

after(async () => {
  await market.stop();
});

test('an agent takes a dispatch signed with the dispatch key and refuses one signed with the BPP’s Beckn key', async () => {
  const m = market.m;
  const keys = new FileKeyStore(join(m.runDir, '..', '..', 'keys'), false);
  const url = `${m.urls.agent}${LINK_PATHS.dispatch}`;
  const body = versioned({ dispatch: [], reason: 'dispatch-key test' });
  const beckn = await keys.signer('dc.flexlon.local');
  await assert.rejects(
    callSigned(url, body, beckn, Date.now),
    /refused: HTTP 401/,
    'the Beckn key is not a dispatch key',
  );
  const dispatch = await keys.signer(dispatchKeyId('dc.flexlon.local'));
  assert.notEqual(dispatch.publicKeyBase64, beckn.publicKeyBase64, 'two key pairs');
  const answer = await callSigned<{ results?: unknown[] }>(url, body, dispatch, Date.now);
  assert.ok(answer, 'the dispatch key is trusted');
});

test('a baseline read far in the future is refused at once, not simulated for ever (a crash the resilience suite found)', async () => {
  const m = market.m;
  const keys = new FileKeyStore(join(m.runDir, '..', '..', 'keys'), false);
  const dispatch = await keys.signer(dispatchKeyId('dc.flexlon.local'));
  const url = `${m.urls.agent}${LINK_PATHS.baseline}`;
  const started = Date.now();
  await assert.rejects(
    callSigned(url, versioned({ fromMs: 1e15, slots: 4 }), dispatch, Date.now),
    /refused: HTTP 400 .*outside what this agent answers for/,
  );
  await assert.rejects(
    callSigned(url, versioned({ fromMs: m.dayStart, slots: 10, slotMinutes: 1440 }), dispatch, Date.now),
    /refused: HTTP 400 .*slotMinutes must be a whole number of minutes from 1 to 60/,
  );
  assert.ok(Date.now() - started < 5_000, 'answered at once');
  // A read the provider does make (its window, today) is still answered.
  const ok = await callSigned<{ importKw: unknown[] }>(
    url,
    versioned({ fromMs: m.dayStart + 36 * 1_800_000, slots: 2 }),
    dispatch,
    Date.now,
  );
  assert.equal(ok.importKw.length, 2);
});
