import { describe, expect, it } from 'vitest';
import { csvLine, maskSecrets, secretState, type AuditEntryView } from './audit.js';

describe('audit entries', () => {
  it('records secrets only as set or unset', () => {
    expect(maskSecrets({ tag: '1.2.0', API_KEY: 'k-123', EMPTY: '', GONE: null }, ['API_KEY', 'EMPTY', 'GONE', 'ABSENT'])).toEqual({
      tag: '1.2.0',
      API_KEY: 'set',
      EMPTY: 'unset',
      GONE: 'unset',
    });
    expect(maskSecrets(null, ['x'])).toBeNull();
    expect([secretState(undefined), secretState('x')]).toEqual(['unset', 'set']);
  });

  it('writes CSV a spreadsheet cannot run: formulas prefixed, quotes doubled, JSON for objects', () => {
    const e = {
      id: '7',
      at: '2026-12-03T12:00:00.000Z',
      actorKind: 'operator',
      actorId: null,
      actorName: '=cmd|"/c calc"!A1',
      tokenId: null,
      tokenName: null,
      action: 'instance.update',
      targetKind: 'instance',
      targetId: 'i1',
      clientAddress: '127.0.0.1',
      outcome: 'accepted',
      reason: null,
      before: { imageTag: '1.0.0' },
      after: { imageTag: '1.1.0' },
    } as AuditEntryView;
    expect(csvLine(e)).toBe(
      `7,2026-12-03T12:00:00.000Z,operator,,"'=cmd|""/c calc""!A1",,,instance.update,instance,i1,127.0.0.1,accepted,,"{""imageTag"":""1.0.0""}","{""imageTag"":""1.1.0""}"\r\n`,
    );
  });
});
