// Time is slotted. The default slot is 30 minutes, the GB settlement period (BSC Section X-1).
// Instants are epoch milliseconds (UTC); the core never reads a clock, callers pass `now` in.
import { hours, type Hours } from './units.ts';

export type EpochMs = number & { readonly __epochMs: true };
export const epochMs = (n: number): EpochMs => n as EpochMs;

export const MINUTE_MS = 60_000;

/** A horizon of equal slots starting at `start`. Slot i covers [start + i·len, start + (i+1)·len). */
export interface SlotGrid {
  readonly start: EpochMs;
  readonly slotMinutes: number;
  readonly slots: number;
}

export const slotHours = (grid: SlotGrid): Hours => hours(grid.slotMinutes / 60);
export const slotStart = (grid: SlotGrid, slot: number): EpochMs =>
  epochMs(grid.start + slot * grid.slotMinutes * MINUTE_MS);
export const gridEnd = (grid: SlotGrid): EpochMs => slotStart(grid, grid.slots);

/** The slot containing instant t, clamped to [0, slots]. `slots` means "at or after the end". */
export const slotAt = (grid: SlotGrid, t: number): number => {
  const i = Math.floor((t - grid.start) / (grid.slotMinutes * MINUTE_MS));
  return Math.max(0, Math.min(grid.slots, i));
};

/** A half-open range of slots [from, to). */
export interface SlotWindow {
  readonly fromSlot: number;
  readonly toSlot: number;
}

export const windowLength = (w: SlotWindow): number => w.toSlot - w.fromSlot;
export const inWindow = (w: SlotWindow, slot: number): boolean => slot >= w.fromSlot && slot < w.toSlot;

export const isoOf = (t: number): string => new Date(t).toISOString();
