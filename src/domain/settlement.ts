// Moved to src/settlement/delivered.ts; this re-export is for callers not yet updated.
export * from '../settlement/delivered.ts';
