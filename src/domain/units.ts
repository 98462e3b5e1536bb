// Quantities carry their unit in the type, so that kW cannot be passed where kWh is meant.
// The brand exists only at compile time; at run time these are plain numbers.
declare const unit: unique symbol;
type Quantity<U extends string> = number & { readonly [unit]: U };

export type Kilowatts = Quantity<'kW'>;
export type KilowattHours = Quantity<'kWh'>;
export type MegawattHours = Quantity<'MWh'>;
export type Pounds = Quantity<'GBP'>;
export type PoundsPerMwh = Quantity<'GBP/MWh'>;
export type GramsCo2PerKwh = Quantity<'gCO2/kWh'>;
export type GramsCo2 = Quantity<'gCO2'>;
export type Hours = Quantity<'h'>;

export const kw = (n: number): Kilowatts => n as Kilowatts;
export const kwh = (n: number): KilowattHours => n as KilowattHours;
export const gbp = (n: number): Pounds => n as Pounds;
export const gbpPerMwh = (n: number): PoundsPerMwh => n as PoundsPerMwh;
export const gPerKwh = (n: number): GramsCo2PerKwh => n as GramsCo2PerKwh;
export const grams = (n: number): GramsCo2 => n as GramsCo2;
export const hours = (n: number): Hours => n as Hours;

/** Energy delivered by a constant power over a duration. */
export const energyOf = (power: Kilowatts, duration: Hours): KilowattHours => kwh(power * duration);

/** Cost of energy at a price per MWh (1 MWh = 1000 kWh). */
export const costOf = (energy: KilowattHours, price: PoundsPerMwh): Pounds => gbp((energy * price) / 1000);

/** Emissions of energy at a carbon intensity. */
export const emissionsOf = (energy: KilowattHours, intensity: GramsCo2PerKwh): GramsCo2 => grams(energy * intensity);

export const sum = <T extends number>(xs: readonly T[]): T => xs.reduce<number>((a, b) => a + b, 0) as T;

/** Rounds to a fixed number of decimals for presentation and wire formats (never for arithmetic). */
export const round = (n: number, decimals = 3): number => {
  const f = 10 ** decimals;
  return Math.round(n * f) / f;
};
