// Moved to src/settlement/baseline-bl01.ts; this re-export is for callers not yet updated.
export * from '../settlement/baseline-bl01.ts';
