// Moved to src/optimise/problem.ts; this re-export is for callers not yet updated.
export * from '../../optimise/problem.ts';
