// Moved to src/settlement/codec.ts; this re-export is for callers not yet updated.
export * from '../settlement/codec.ts';
