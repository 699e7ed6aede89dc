/**
 * The sweep's minute (issue 14): EventBridge Scheduler starts one Express state machine execution a minute
 * (a **window** of `windowSeconds`, anchored on the schedule's time), and the execution invokes the sweep
 * function once per **slot**, at `start + k × intervalSeconds` for k = 0 … ⌈windowSeconds / intervalSeconds⌉ − 1,
 * waiting between invocations in a Step Functions Wait state instead of a Lambda held for the minute.
 * Each invocation sweeps once and answers with the next slot: this module is that arithmetic.
 *
 * Why ⌈W/P⌉ slots and not ⌊W/P⌋: the last slot must be at most one period before the next window's first
 * one, or the gap across the minute would exceed P (P = 7 s: slots 0 … 56 s, then 60 s; with ⌊60/7⌋ = 8
 * slots the last would be at 49 s and the gap 11 s). So consecutive sweeps start at most P apart and a node
 * that stops reporting is found within `heartbeatTimeoutSeconds` + P (docs/SIZING.md "The bound") as long as a
 * sweep takes less than P. A sweep that overruns its slot is followed at once by one sweep that stands for
 * every slot that passed meanwhile (it covers every deadline up to its own time); a window whose end has
 * passed stops, since the next window's execution has begun.
 *
 * Pure: times in (epoch milliseconds), slots out.
 */

/** The schedule's period: one window a minute (EventBridge Scheduler's finest rate). */
export const SWEEP_WINDOW_SECONDS = 60;

export interface SweepWindow {
  /** When the window begins (the schedule's scheduled time), epoch ms. */
  readonly startMs: number;
  /** Seconds between two sweeps (functions/core/cadence.ts), an integer from 1 to 60. */
  readonly intervalSeconds: number;
  /** The window's length. @default SWEEP_WINDOW_SECONDS */
  readonly windowSeconds?: number;
}

/** The next sweep of a window, or none. */
export type NextSweep =
  | { readonly done: true }
  | { readonly done: false; readonly index: number; readonly atMs: number };

const windowMs = (w: SweepWindow) => (w.windowSeconds ?? SWEEP_WINDOW_SECONDS) * 1000;

/** Sweeps per window: ⌈windowSeconds / intervalSeconds⌉ (6 at P = 10 s, 9 at 7 s, 60 at 1 s, 1 at 60 s). */
export function sweepsPerWindow(intervalSeconds: number, windowSeconds = SWEEP_WINDOW_SECONDS): number {
  if (!Number.isInteger(intervalSeconds) || intervalSeconds < 1)
    throw new Error(`intervalSeconds must be a positive integer, got ${intervalSeconds}`);
  return Math.ceil(windowSeconds / intervalSeconds);
}

/** When slot `index` of the window is due, epoch ms. */
export function slotAt(window: SweepWindow, index: number): number {
  return window.startMs + index * window.intervalSeconds * 1000;
}

/**
 * After the sweep of slot `index` finished at `nowMs`: the slot to sweep next and when (a time already
 * passed means at once), or `done` when the window has no slot left or its end has passed.
 */
export function nextSweep(window: SweepWindow, index: number, nowMs: number): NextSweep {
  const slots = sweepsPerWindow(window.intervalSeconds, windowMs(window) / 1000);
  if (!Number.isInteger(index) || index < 0 || index >= slots)
    throw new Error(`slot ${index} is not a slot of a window of ${slots} sweeps`);
  if (nowMs >= window.startMs + windowMs(window)) return { done: true };
  // The last slot due at or before now: the slots between it and `index` passed during this sweep.
  const lastPassed = Math.floor((nowMs - window.startMs) / (window.intervalSeconds * 1000));
  const next = Math.max(index + 1, lastPassed);
  if (next >= slots) return { done: true };
  return { done: false, index: next, atMs: slotAt(window, next) };
}
