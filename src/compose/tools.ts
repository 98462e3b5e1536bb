// The adapters the CLI's file tools use (signals import, events validate, audit verify), picked
// here so that no command imports an adapter itself: the SQLite and PostgreSQL stores opened for
// reading, the OpenADR event store, and the CSV / saved-response signal formats.
export { GridEventStore } from '../adapters/events-openadr/store.ts';
export { readSavedFile, type SavedFormat } from '../adapters/signals-api/saved.ts';
export { readCsv } from '../formats/csv.ts';
export { detectFormat, readTable } from '../adapters/signals-csv/formats.ts';
export { parseMapping } from '../adapters/signals-csv/mapping.ts';
export { normalisedCsv, writeAtomically } from '../adapters/signals-csv/write.ts';
export { listPostgresStores } from '../adapters/store-postgres/index.ts';
export { openSqliteStore } from '../adapters/store-sqlite/index.ts';
