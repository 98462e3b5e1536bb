// The subset of Beckn v1.1 objects FlexLon sends and reads (transaction.yaml components.schemas).
// Quantities and prices travel as DecimalValue strings; FlexLon-specific attributes travel as tag
// groups with stable codes (BECKN-009: tags are the sanctioned extension point); docs/beckn.md lists them.

export interface Descriptor {
  name?: string;
  code?: string;
  short_desc?: string;
}
export interface Tag {
  descriptor: Descriptor;
  value: string;
  display?: boolean;
}
export interface TagGroup {
  display?: boolean;
  descriptor: Descriptor;
  list: Tag[];
}
export interface Price {
  currency: string;
  value?: string;
  /** core 1.1.1 Price.maximum_value: a ceiling (a search's most it would pay). */
  maximum_value?: string;
}
export interface Scalar {
  type?: 'CONSTANT' | 'VARIABLE';
  value: string;
  unit: string;
}
export interface TimeRange {
  start: string;
  end: string;
}
export interface Time {
  label?: string;
  timestamp?: string;
  duration?: string;
  range?: TimeRange;
}
export interface Stop {
  type: string;
  time: Time;
}
export interface FulfillmentState {
  descriptor: Descriptor;
  updated_at?: string;
}
export interface Fulfillment {
  id?: string;
  type?: string;
  stops?: Stop[];
  state?: FulfillmentState;
  tags?: TagGroup[];
}
export interface Location {
  id: string;
  descriptor?: Descriptor;
  /** The grid region of a site (FlexLon's region code, e.g. GB DNO region). */
  area_code?: string;
  country?: { code?: string; name?: string };
}
export interface Item {
  id: string;
  descriptor?: Descriptor;
  price?: Price;
  quantity?: { available?: { measure: Scalar }; selected?: { measure: Scalar } };
  time?: Time;
  location_ids?: string[];
  fulfillment_ids?: string[];
  tags?: TagGroup[];
}
export interface Provider {
  id: string;
  descriptor?: Descriptor;
  locations?: Location[];
  items?: Item[];
  fulfillments?: Fulfillment[];
}
export interface Catalog {
  descriptor?: Descriptor;
  providers?: Provider[];
  /** core 1.1.1 Catalog.exp: when the catalog (its offers) expires. */
  exp?: string;
}
export interface Intent {
  descriptor?: Descriptor;
  fulfillment?: Fulfillment;
  /** core 1.1.1 Intent.item: what is wanted (quantity) and the most it may cost (price.maximum_value). */
  item?: Item;
  tags?: TagGroup[];
}
export interface Quotation {
  id?: string;
  price: Price;
  breakup?: { title: string; price: Price }[];
  ttl?: string;
}
export interface Payment {
  type?: 'PRE-ORDER' | 'PRE-FULFILLMENT' | 'ON-FULFILLMENT' | 'POST-FULFILLMENT';
  collected_by?: 'BAP' | 'BPP';
  status?: 'PAID' | 'NOT-PAID';
  params?: { amount?: string; currency?: string };
  tags?: TagGroup[];
}
export interface Billing {
  name?: string;
  email?: string;
}
export interface CancellationTerm {
  fulfillment_state?: FulfillmentState;
  reason_required?: boolean;
  cancel_by?: Time;
  cancellation_fee?: { percentage?: string; amount?: Price };
}
export interface WireOrder {
  id?: string;
  status?: 'ACTIVE' | 'COMPLETE' | 'CANCELLED';
  provider?: { id: string };
  items?: Item[];
  billing?: Billing;
  fulfillments?: Fulfillment[];
  quote?: Quotation;
  payments?: Payment[];
  cancellation_terms?: CancellationTerm[];
  tags?: TagGroup[];
  created_at?: string;
  updated_at?: string;
}

export const tagGroup = (code: string, name: string, values: Record<string, string | number>): TagGroup => ({
  descriptor: { code, name },
  list: Object.entries(values).map(([k, v]) => ({ descriptor: { code: k }, value: String(v) })),
});

export const readTag = (groups: readonly TagGroup[] | undefined, group: string, code: string): string | undefined =>
  groups?.find((g) => g.descriptor?.code === group)?.list?.find((t) => t.descriptor?.code === code)?.value;

/** A number as a Beckn DecimalValue string (no exponent notation, at most `decimals` places). */
export const decimal = (n: number, decimals = 3): string => {
  if (!Number.isFinite(n)) throw new Error(`cannot send ${n} as a decimal`);
  // toFixed writes 1e21 and above in exponent form, which is no DecimalValue: write the digits.
  if (Math.abs(n) >= 1e21) return BigInt(Math.round(n)).toString();
  const s = n
    .toFixed(decimals)
    .replace(/(\.\d*?)0+$/, '$1')
    .replace(/\.$/, '');
  return s === '-0' ? '0' : s;
};
