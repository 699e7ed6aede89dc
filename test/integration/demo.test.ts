import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { describe, expect, it } from '@jest/globals';

const run = promisify(execFile);

describe('npm run demo -- --json', () => {
  it('sees the stall, the recovery, the dead primary and the failover plan, and prints one JSON summary', async () => {
    const { stdout } = await run(process.execPath, ['--import', 'tsx', 'local/demo.ts', '--json'], {
      timeout: 120_000,
    });
    const summary = JSON.parse(stdout) as {
      simulated: boolean;
      stallDetectedAfterMs: number;
      recoveredAfterMs: number;
      deadDetectedAfterMs: number;
      notifications: string[];
      nodes: { clusterId: string; nodeId: string; role: string; status: string }[];
    };
    expect(summary.simulated).toBe(true);
    // Virtual time: the stall is caught one stallAfter (60 s) after the last progress, 10 s before the pause.
    expect(summary.stallDetectedAfterMs).toBe(50_000);
    // Three good heartbeats (healthyStreak) after the replay resumed: +10 s, +20 s.
    expect(summary.recoveredAfterMs).toBe(20_000);
    // The heartbeat timeout (30 s) after the primary's last report, found by the next sweep.
    expect(summary.deadDetectedAfterMs).toBe(20_000);
    expect(summary.notifications).toEqual([
      ':rotating_light: STALLED: orders-pg/pg-3 (replica) — incident opened',
      ':gear: replica-recovery dry-run: orders-pg/pg-3',
      ':white_check_mark: Resolved: orders-pg/pg-3 is HEALTHY again',
      ':fire: DEAD: orders-pg/pg-1 (primary) — incident opened',
      ':gear: primary-failover dry-run: orders-pg/pg-1',
    ]);
    expect(summary.nodes.map((n) => [n.nodeId, n.role, n.status])).toEqual([
      ['pg-1', 'primary', 'DEAD'],
      ['pg-2', 'replica', 'STALLED'],
      ['pg-3', 'replica', 'STALLED'],
    ]);
  });
});
