// `flexlon demo --carbon-cap fifo-intensity` through the whole market: every plan the BPP audits is
// held to FIFO's CO2 per kWh imported (with the allowance the day so far leaves), and the summary says
// so. The half-idle site at the fastest clock: the assertions are about the cap, not the day.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runDemo } from '../../src/cli/demo.ts';
import { demoConfig } from '../../src/config.ts';
import { openSqliteStore } from '../../src/adapters/store-sqlite/index.ts';

const dataDir = mkdtempSync(join(tmpdir(), 'flexlon-e2e-intensity-'));
after(() => rmSync(dataDir, { recursive: true, force: true }));

interface PlanRow {
  readonly carbonKg?: number;
  readonly carbonCapKg?: number;
  readonly carbonCapGPerKwh?: number;
  readonly itImportKwh?: number;
  readonly carbonCapMissedKg?: number;
}

test(
  'demo with the fifo-intensity cap: each plan keeps FIFO’s g per kWh, and the summary says how the first stood',
  { timeout: 180_000 },
  async () => {
    const config = demoConfig({
      dataDir,
      logLevel: 'silent',
      siteProfile: 'half-idle',
      secondsPerDay: '15',
      carbonCap: 'fifo-intensity',
    });
    const lines: string[] = [];
    const result = await runDemo(config, { out: (l) => lines.push(l), err: () => {} }, new AbortController().signal);
    const cap = lines.find((l) =>
      l.startsWith('  carbon cap  fifo-intensity: no more CO2 per kWh than the same queues on FIFO'),
    );
    const m = /: (\d+) of (\d+) plans within it.*; the first plan (\d+) g\/kWh against FIFO's (\d+) g\/kWh$/.exec(
      cap ?? '',
    );
    assert.ok(m, lines.join('\n'));
    assert.equal(m[1], m[2], cap);
    // The first plan has no metered day behind it: no allowance, so no dirtier than FIFO (rounding aside).
    assert.ok(Number(m[3]) <= Number(m[4]) + 1, cap);

    const flex = await openSqliteStore(join(result.runDir, 'flex-orchestrator.db'));
    try {
      const plans = (await flex.auditTrail()).filter((r) => r.kind === 'plan').map((r) => r.payload as PlanRow);
      const capped = plans.filter((p) => p.carbonCapGPerKwh !== undefined);
      assert.ok(capped.length > 10, `${capped.length} plans under the intensity cap`);
      for (const p of capped) {
        assert.ok(
          p.itImportKwh !== undefined && p.itImportKwh > 0 && p.carbonKg !== undefined && p.carbonCapKg !== undefined,
        );
        const allowed = p.carbonCapKg + (p.carbonCapGPerKwh! * p.itImportKwh) / 1000;
        assert.ok(
          p.carbonKg <= allowed + 1e-4 * Math.max(1, Math.abs(allowed)),
          `${p.carbonKg} kg against ${allowed} kg allowed`,
        );
      }
      // FIFO's intensity moves with the day: the cap is measured again as the horizon moves.
      assert.ok(new Set(capped.map((p) => p.carbonCapGPerKwh!.toFixed(3))).size > 1);
    } finally {
      await flex.close();
    }
  },
);

test('demo with a cap in kg no plan can keep: it stops at the first plan with a coded error naming the flag, not a day of held jobs', async () => {
  const config = demoConfig({
    dataDir,
    logLevel: 'silent',
    siteProfile: 'half-idle',
    secondsPerDay: '15',
    carbonCap: '0',
  });
  const lines: string[] = [];
  await assert.rejects(
    runDemo(config, { out: (l) => lines.push(l), err: () => {} }, new AbortController().signal),
    (e: Error & { code?: string }) =>
      e.code === 'FLX_CONFIG_INVALID' &&
      /^--carbon-cap 0: no plan can keep it, .*the carbon cap of 0 kg cannot be met: every plan emits at least \d+(\.\d)? kg/.test(
        e.message,
      ),
  );
  // Stopped before the replayed day ran: nothing narrated past its first hour, nothing bought.
  assert.ok(!lines.some((l) => /^\[(0[1-9]|1\d|2\d):/.test(l)), lines.join('\n'));
  assert.ok(!lines.some((l) => l.includes('flexibility bought') || l.includes('committed')), lines.join('\n'));
});
