// Moved to src/settlement/settlement-day.ts; this re-export is for callers not yet updated.
export * from '../settlement/settlement-day.ts';
