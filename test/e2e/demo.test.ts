// The main test: the whole market on loopback, driven in-process through real HTTP, real ed25519
// signatures, real SQLite files. It asserts the deal, the callbacks each side received, the stored
// order state and the audit rows, and re-verifies every stored inbound signature independently.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { runDemo, type DemoResult } from '../../src/cli/demo.ts';
import { main } from '../../src/cli/main.ts';
import { demoConfig } from '../../src/config.ts';
import { openSqliteStore } from '../../src/adapters/store-sqlite/index.ts';
import { verifyChain, type AuditRecord } from '../../src/audit/chain.ts';
import { parseAuthorization } from '../../src/beckn/auth-header.ts';
import { publicKeyFromBase64 } from '../../src/beckn/keys.ts';
import { blake512Base64, signingString, verifySignature } from '../../src/beckn/signing.ts';
import { FileKeyStore } from '../../src/adapters/keystore-file/keystore.ts';
import { becknValidator } from '../../src/beckn/validator.ts';
import { officialValidator } from '../helpers/official-beckn.ts';

const actionsOf = (trail: readonly AuditRecord[], kind: string): string[] =>
  trail.filter((r) => r.kind === kind).map((r) => (r.payload as { action: string }).action);

const dataDir = mkdtempSync(join(tmpdir(), 'flexlon-e2e-'));
// The lifecycle on the half-idle site, with the default FIFO carbon cap: its day and figures are
// steady. The busy default (issue 13 item 6) prices in about 7 s of wall time under the cap, near
// the buyer's 10 s window on a loaded machine; the demo commands are measured by hand instead. The
// fastest clock the demo allows: the assertions are about the lifecycle, not the clock.
const config = demoConfig({ dataDir, logLevel: 'silent', siteProfile: 'half-idle', secondsPerDay: '15' });
const into = (lines: string[]) => ({ out: (l: string) => lines.push(l), err: () => {} });

/** The first run in `dataDir`: the lifecycle test reads it, the second-run test runs again beside it. */
let first: { readonly result: DemoResult; readonly lines: string[]; readonly key: string };

before(
  async () => {
    const lines: string[] = [];
    const result = await runDemo(config, into(lines), new AbortController().signal);
    const key = (await new FileKeyStore(join(dataDir, 'keys')).signer('dc.flexlon.local')).publicKeyBase64;
    first = { result, lines, key };
  },
  { timeout: 180_000 },
);

after(() => rmSync(dataDir, { recursive: true, force: true }));

test(
  'demo: the grid buys a peak reduction over the full Beckn lifecycle, the data centre delivers it, every hop is signed and audited',
  { timeout: 180_000 },
  async () => {
    const { result, lines } = first;

    // The deal: an offer inside the need's window, a commitment no larger than the offer.
    const p = result.procurement;
    assert.ok(p.offer.reductionKw > 0, 'the data centre offered a reduction');
    assert.ok(p.selectedKw <= p.offer.reductionKw);
    assert.ok(p.offer.windowStart >= result.need.windowStart && p.offer.windowEnd <= result.need.windowEnd);
    assert.equal(p.baselineMethod, 'FLX-CF-FIFO-1');

    // Delivery: metered per settlement period against the stated baseline.
    const s = result.settlement;
    assert.equal(result.finalState, 'DELIVERED');
    assert.ok(
      lines.some((l) => /on_status pushed by the provider, unasked: DELIVERING$/.test(l)),
      'the demo shows the provider telling the grid, unasked, that delivery started',
    );
    assert.equal(s.periods.length, 2);
    // The buyer recomputed the provider's statement under the terms it bought on, and agrees (issue 16).
    assert.ok(
      lines.some((l) => /grid: statement checked — agrees \(2 periods and the payment £[\d.]+ recomputed/.test(l)),
      lines.join('\n'),
    );
    for (const per of s.periods) {
      assert.ok(
        Math.abs(per.deliveredKwh - (per.baselineKw - per.meteredKw) * 0.5) < 0.01,
        'delivered = (baseline − metered) × 0.5 h',
      );
    }
    assert.ok(
      s.deliveredKwh >= s.committedKwh * 0.99,
      `delivered ${s.deliveredKwh} kWh of ${s.committedKwh} committed`,
    );
    // The default carbon cap (issue 13 item 7): £ and kgCO2 of both days side by side, and the cap kept.
    assert.ok(
      lines.some((l) => /^\s+FlexLon £[\d.]+ and [\d.]+ kgCO2, FIFO £[\d.]+ and [\d.]+ kgCO2$/.test(l)),
      lines.join('\n'),
    );
    const cap = lines.find((l) => l.startsWith('  carbon cap  fifo (the default)'));
    const kept = /: (\d+) of (\d+) plans within it; the first plan \d+ kg against a cap of \d+ kg$/.exec(cap ?? '');
    assert.ok(kept && Number(kept[2]) > 0 && kept[1] === kept[2], cap);
    assert.ok(result.savings.flexlonGCo2 <= result.savings.bauGCo2, 'no more CO2 than FIFO over the two days');
    // Not the same kWh as FIFO any more: GPU caps change energy per unit of work (3995 vs 3970 kWh
    // already at 61eed41) and under the FIFO carbon cap the planner leaves some soft-deadline work
    // late past the two days (3995 vs 3806 kWh measured 2026-12-04). Never more than FIFO, and a
    // shortfall over 1 % is said in the summary.
    const short = result.savings.bauKwh - result.savings.flexlonKwh;
    assert.ok(short > -1, `FlexLon imported ${-short} kWh more than FIFO`);
    if (short > 0.01 * result.savings.bauKwh)
      assert.ok(lines.some((l) => l.startsWith(`  unfinished  ${short.toFixed(0)} kWh less imported than FIFO`)));
    assert.ok(result.savings.gbp > 0, 'shifting saved money against the same queue on a FIFO scheduler');
    // Per GPU-hour of work done within the two days (each cluster's work log): the figures printed
    // are the totals divided by it, and neither side ran more GPU-hours than its 128 GPUs have.
    const sv = result.savings;
    const perWork =
      /^ {2}per work {4}FlexLon £([\d.]+) and (\d+) gCO2, FIFO £([\d.]+) and (\d+) gCO2 per GPU-hour of work \(FlexLon (\d+) and FIFO (\d+) GPU-hours: (.+)\)$/.exec(
        lines.find((l) => l.startsWith('  per work')) ?? '',
      );
    assert.ok(perWork, lines.join('\n'));
    assert.ok(sv.flexlonGpuHours > 0 && sv.bauGpuHours > 0);
    assert.ok(sv.bauGpuHours <= 128 * 48 + 1e-6 && sv.flexlonGpuHours <= 128 * 48 + 1e-6);
    assert.equal(perWork[1], (sv.flexlonGbp / sv.flexlonGpuHours).toFixed(4));
    assert.equal(perWork[3], (sv.bauGbp / sv.bauGpuHours).toFixed(4));
    assert.equal(Number(perWork[2]), Math.round(sv.flexlonGCo2 / sv.flexlonGpuHours));
    assert.equal(Number(perWork[4]), Math.round(sv.bauGCo2 / sv.bauGpuHours));
    assert.equal(Number(perWork[5]), Math.round(sv.flexlonGpuHours));
    assert.equal(Number(perWork[6]), Math.round(sv.bauGpuHours));
    // The half-idle day finishes its work in the two days under both: the same GPU-hours.
    assert.equal(perWork[7], 'the same work');

    // Stored state, read back from the SQLite files after the run.
    const files = readdirSync(result.runDir)
      .filter((f) => f.endsWith('.db'))
      .sort();
    assert.deepEqual(files, [
      'compute-agent-lon.db',
      'flex-orchestrator.db',
      'gateway.db',
      'grid-orchestrator.db',
      'registry.db',
    ]);
    const flex = await openSqliteStore(join(result.runDir, 'flex-orchestrator.db'));
    const grid = await openSqliteStore(join(result.runDir, 'grid-orchestrator.db'));
    try {
      const order = await flex.getOrder(p.orderId);
      assert.equal(order?.state, 'completed');
      assert.equal(order?.transactionId, p.transactionId);
      assert.equal(order?.reductionKw, p.selectedKw);

      const flexTrail = await flex.auditTrail();
      const gridTrail = await grid.auditTrail();
      assert.ok(verifyChain(flexTrail).ok && verifyChain(gridTrail).ok);
      // Each side received exactly the lifecycle, in order, and sent the other half.
      assert.deepEqual(actionsOf(flexTrail, 'beckn.in'), ['search', 'select', 'init', 'confirm', 'status', 'support']);
      // Besides the on_status it was asked for, the BPP pushed on_status unasked as the order moved with
      // market time (delivery started, delivery done; the second may be overtaken by the status request).
      const asked = (xs: string[]) => xs.filter((a, i) => a !== 'on_status' || xs[i + 1] !== 'on_status');
      assert.deepEqual(asked(actionsOf(flexTrail, 'beckn.out')), [
        'on_search',
        'on_select',
        'on_init',
        'on_confirm',
        'on_status',
        'on_support',
      ]);
      assert.deepEqual(asked(actionsOf(gridTrail, 'beckn.in')), [
        'on_search',
        'on_select',
        'on_init',
        'on_confirm',
        'on_status',
        'on_support',
      ]);
      const pushed = gridTrail
        .filter((r) => r.kind === 'settlement' && (r.payload as { unsolicited?: boolean }).unsolicited)
        .map((r) => (r.payload as { state?: string }).state);
      assert.equal(
        pushed[0],
        'DELIVERING',
        `the BAP heard that delivery started without asking (${pushed.join(', ')})`,
      );
      assert.equal(actionsOf(gridTrail, 'beckn.in').filter((a) => a === 'on_status').length, 1 + pushed.length);
      assert.deepEqual(actionsOf(gridTrail, 'beckn.out'), ['search', 'select', 'init', 'confirm', 'status', 'support']);
      // After delivery the BPP's on_support carries the same settlement as on_status (signed statement).
      assert.deepEqual(
        result.statement?.periods.map((x) => x.deliveredKwh),
        s.periods.map((x) => x.deliveredKwh),
      );
      assert.equal(result.statement?.paymentGbp, s.paymentGbp);
      // Every message the demo emitted (both sides, from the audit rows) conforms to the official
      // core 1.1.1 transaction.yaml, read in place, and to FlexLon's own schemas.
      const official = officialValidator();
      for (const r of [...flexTrail, ...gridTrail].filter((x) => x.kind === 'beckn.out')) {
        const { action, body } = r.payload as { action: string; body: string };
        assert.deepEqual(
          official(action, JSON.parse(body)),
          [],
          `${action} sent by ${r.actor} conforms to transaction.yaml`,
        );
        assert.deepEqual(
          becknValidator().check(action as never, JSON.parse(body)),
          [],
          `${action} sent by ${r.actor} conforms to FlexLon's schema`,
        );
      }
      assert.equal(flexTrail.filter((r) => r.kind === 'beckn.rejected').length, 0);
      // The search went through the gateway: the BPP verified both signatures and audited the gateway's.
      const search = flexTrail.find(
        (r) => r.kind === 'beckn.in' && (r.payload as { action: string }).action === 'search',
      )?.payload as { gateway?: string; gatewayAuthorization?: string };
      assert.equal(search.gateway, 'gateway.flexlon.local');
      assert.match(search.gatewayAuthorization ?? '', /^Signature keyId="gateway\.flexlon\.local\|/);
      const txOf = (r: AuditRecord) => r.transactionId;
      assert.ok(flexTrail.filter((r) => r.kind.startsWith('beckn.')).every((r) => txOf(r) === p.transactionId));
      // Callbacks pair with their requests by message_id; the pushed on_status carry message ids of their own.
      const sent = gridTrail.filter((r) => r.kind === 'beckn.out').map((r) => r.messageId);
      const pushIds = new Set(
        gridTrail
          .filter((r) => r.kind === 'settlement' && (r.payload as { unsolicited?: boolean }).unsolicited)
          .map((r) => (r.payload as { messageId: string }).messageId),
      );
      const got = gridTrail
        .filter((r) => r.kind === 'beckn.in' && !pushIds.has(r.messageId ?? ''))
        .map((r) => r.messageId);
      assert.deepEqual(got, sent);
      assert.ok(
        [...pushIds].every((id) => !sent.includes(id)),
        'a pushed on_status answers no request',
      );
      assert.ok(
        flexTrail.some((r) => r.kind === 'dispatch' && r.orderId === p.orderId),
        'the commitment was dispatched',
      );
      assert.ok(flexTrail.some((r) => r.kind === 'settlement' && r.orderId === p.orderId));

      // Every stored inbound message re-verifies from its stored bytes and header (real signatures).
      const keys = new FileKeyStore(join(dataDir, 'keys'));
      const pub = {
        'grid.flexlon.local': (await keys.signer('grid.flexlon.local')).publicKeyBase64,
        'dc.flexlon.local': (await keys.signer('dc.flexlon.local')).publicKeyBase64,
      };
      for (const r of [...flexTrail, ...gridTrail].filter((x) => x.kind === 'beckn.in')) {
        const { body, authorization, from } = r.payload as {
          body: string;
          authorization: string;
          from: keyof typeof pub;
        };
        const h = parseAuthorization(authorization);
        assert.equal(h.subscriberId, from);
        assert.ok(
          verifySignature(
            publicKeyFromBase64(pub[from]),
            signingString(h.created, h.expires, blake512Base64(body)),
            h.signature,
          ),
        );
      }
    } finally {
      await flex.close();
      await grid.close();
    }
    assert.ok(lines.some((l) => l.startsWith('  delivered')) && lines.some((l) => l.includes('intact')));

    // An operator can re-verify the run afterwards: chains and every stored inbound signature.
    const out: string[] = [];
    const verify = () => main(['audit', 'verify', result.runDir], { out: (l) => out.push(l), err: (l) => out.push(l) });
    assert.equal(await verify(), 0, out.join('\n'));
    assert.ok(out.some((l) => /^\s+\d+ of \d+ inbound signatures verify$/.test(l)));
    const db = new Database(join(result.runDir, 'grid-orchestrator.db'));
    db.exec('DROP TRIGGER audit_log_no_update');
    db.prepare(
      "UPDATE audit_log SET payload = replace(payload, 'on_confirm', 'on_cancel') WHERE kind = 'beckn.in'",
    ).run();
    db.close();
    out.length = 0;
    assert.equal(await verify(), 1);
    assert.ok(
      out.some((l) => l.startsWith('BROKEN  grid-orchestrator.db')),
      out.join('\n'),
    );
  },
);

test(
  'demo: a second run in the same data directory works and keeps its keys; with --serve, market time stands at the end of the day',
  { timeout: 180_000 },
  async () => {
    // The first run is the lifecycle test's (the defaults but for the site and the clock). Its
    // grid-orchestrator.db was tampered with since; the second run writes a folder of its own. It
    // runs with --serve: once the summary is printed, the provider's fleet view is read twice, a
    // second apart (an hour and a half of market time at this speed, were the clock running), then
    // the run is stopped.
    const printed: [string[], string[]] = [first.lines, []];
    const stop = new AbortController();
    let served: Promise<{ now: string[]; kpis: { overdueJobs?: number }[] }> | undefined;
    const fleet = async (url: string) =>
      (await (await fetch(`${url}api/fleet`)).json()) as {
        now: { sp: string; utc: string };
        kpis: { overdueJobs?: number };
      };
    const out = (l: string) => {
      printed[1].push(l);
      if (!l.includes('--serve:')) return;
      const url =
        /dashboard: (http:\/\/127\.0\.0\.1:\d+\/dashboard\/) \(provider\)/.exec(printed[1].join('\n'))?.[1] ?? '';
      served = (async () => {
        try {
          const a = await fleet(url);
          await new Promise((r) => setTimeout(r, 1000));
          const b = await fleet(url);
          return { now: [a.now.sp, b.now.sp, a.now.utc, b.now.utc], kpis: [a.kpis, b.kpis] };
        } finally {
          stop.abort();
        }
      })();
    };
    const second = await runDemo({ ...config, serve: true }, { out, err: () => {} }, stop.signal);
    const view = await served;
    assert.ok(view, `--serve said it keeps running:\n${printed[1].join('\n')}`);
    assert.deepEqual(view.now, ['2023-01-24 SP48', '2023-01-24 SP48', '2023-01-24 23:59', '2023-01-24 23:59']);
    // The figures stand still with the clock: the day's late jobs, not the next day's queue.
    assert.deepEqual(view.kpis[0], view.kpis[1]);
    assert.equal(typeof view.kpis[0]?.overdueJobs, 'number');
    assert.match(printed[1].at(-1) ?? '', /market time held at the end of the replayed day \[23:59 SP48\]/);
    printed[1].pop();
    assert.notEqual(first.result.runDir, second.runDir);
    assert.notEqual(first.result.procurement.transactionId, second.procurement.transactionId);
    assert.ok(second.audit.every((a) => a.ok));
    assert.equal((await new FileKeyStore(join(dataDir, 'keys')).signer('dc.flexlon.local')).publicKeyBase64, first.key);
    // Repeatable: the same flags print the same summary (the planner bounded by work, market time
    // held at each slot boundary while the slot's work is done, the provider's ids from the seed).
    const summary = (lines: string[]) => lines.slice(lines.indexOf('\nSummary')).join('\n');
    assert.ok(printed[0].includes('\nSummary'), printed[0].join('\n'));
    assert.equal(summary(printed[1]), summary(printed[0]));
    assert.equal(first.result.procurement.orderId, second.procurement.orderId, 'the order id comes from the seed');
  },
);
