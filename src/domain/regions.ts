// GB carbon-intensity regions as the NESO Carbon Intensity API names them (`regionid` and
// `shortname`, api.carbonintensity.org.uk/regional). 1–14 are the DNO licence areas; 15–17 are the
// nations and 18 is GB. FlexLon calls the national series "GB" everywhere, as the existing code does.

export interface GridRegion {
  readonly id: number;
  /** The API's `shortname`. */
  readonly name: string;
  /** The distribution network operator area (the API's `dnoregion`), for the DNO regions. */
  readonly dno?: string;
}

export const NATIONAL_REGION_ID = 18;

export const GB_REGIONS: readonly GridRegion[] = [
  { id: 1, name: 'North Scotland', dno: 'Scottish Hydro Electric Power Distribution' },
  { id: 2, name: 'South Scotland', dno: 'SP Distribution' },
  { id: 3, name: 'North West England', dno: 'Electricity North West' },
  { id: 4, name: 'North East England', dno: 'NPG North East' },
  { id: 5, name: 'Yorkshire', dno: 'NPG Yorkshire' },
  { id: 6, name: 'North Wales and Merseyside', dno: 'SP Manweb' },
  { id: 7, name: 'South Wales', dno: 'WPD South Wales' },
  { id: 8, name: 'West Midlands', dno: 'WPD West Midlands' },
  { id: 9, name: 'East Midlands', dno: 'WPD East Midlands' },
  { id: 10, name: 'East England', dno: 'UKPN East' },
  { id: 11, name: 'South West England', dno: 'WPD South West' },
  { id: 12, name: 'South England', dno: 'SSE South' },
  { id: 13, name: 'London', dno: 'UKPN London' },
  { id: 14, name: 'South East England', dno: 'UKPN South East' },
  { id: 15, name: 'England' },
  { id: 16, name: 'Scotland' },
  { id: 17, name: 'Wales' },
  { id: NATIONAL_REGION_ID, name: 'GB' },
];

const norm = (s: string): string => s.trim().toLowerCase().replace(/&/g, 'and').replace(/\s+/g, ' ');

/**
 * A region from its id ("13"), its name ("London", any case; "North Wales & Merseyside" too) or
 * "GB"/"national". Undefined if nothing matches.
 */
export const findRegion = (key: string | number): GridRegion | undefined => {
  const k = typeof key === 'number' ? String(key) : norm(key);
  if (k === 'national' || k === 'gb') return GB_REGIONS.find((r) => r.id === NATIONAL_REGION_ID);
  if (/^\d+$/.test(k)) return GB_REGIONS.find((r) => r.id === Number(k));
  return GB_REGIONS.find((r) => norm(r.name) === k || (r.dno !== undefined && norm(r.dno) === k));
};

export const isNational = (r: GridRegion): boolean => r.id === NATIONAL_REGION_ID;

/** "13 London" — how regions are listed to people. */
export const regionLabel = (r: GridRegion): string => (isNational(r) ? 'GB (national)' : `${r.id} ${r.name}`);
