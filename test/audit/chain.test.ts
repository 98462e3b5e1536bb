import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { link, verifyChain, type AuditEntry, type AuditRecord } from '../../src/audit/chain.ts';
import { canonicalJson } from '../../src/audit/canonical.ts';

const build = (payloads: readonly unknown[]): AuditRecord[] => {
  const out: AuditRecord[] = [];
  for (const [i, payload] of payloads.entries())
    out.push(link(out.at(-1), { kind: 'agent', at: i, actor: 'a', payload } satisfies AuditEntry));
  return out;
};

test('canonical JSON sorts keys and is independent of insertion order', () => {
  assert.equal(canonicalJson({ b: 1, a: [1, { d: 2, c: 3 }] }), '{"a":[1,{"c":3,"d":2}],"b":1}');
  assert.equal(canonicalJson({ x: 1, y: 2 }), canonicalJson({ y: 2, x: 1 }));
});

test('property: any change to any record, or removing or swapping records, is detected', () => {
  fc.assert(
    fc.property(fc.array(fc.jsonValue(), { minLength: 2, maxLength: 12 }), fc.nat(), fc.nat(), (payloads, i, mode) => {
      const chain = build(payloads);
      assert.ok(verifyChain(chain).ok);
      const k = i % chain.length;
      const target = chain[k] as AuditRecord;
      const broken = [...chain];
      switch (mode % 4) {
        case 0:
          broken[k] = { ...target, payload: { changed: canonicalJson(target.payload) } };
          break;
        case 1:
          broken[k] = { ...target, actor: `${target.actor}x` };
          break;
        case 2:
          broken.splice(k, 1);
          break;
        default:
          if (chain.length > k + 1) {
            broken[k] = chain[k + 1] as AuditRecord;
            broken[k + 1] = target;
          } else broken[k] = { ...target, at: target.at + 1 };
      }
      if (mode % 4 === 2 && k === chain.length - 1) return true; // removing the last record leaves a valid (shorter) chain: see docs
      return !verifyChain(broken).ok;
    }),
  );
});
