// Argument parsers shared by the commands, each with an error that says what it expected.
import { InvalidArgumentError, Option } from "commander";

export function parseSeed(value: string): bigint {
  if (!/^(0x[0-9a-fA-F]+|\d+)$/.test(value)) throw new InvalidArgumentError(`expected a non-negative integer (decimal or 0x hex), found "${value}"`);
  const seed = BigInt(value);
  if (seed >= 1n << 64n) throw new InvalidArgumentError(`expected a seed below 2^64, found ${value}`);
  return seed;
}

/** A --seed option (commander cannot print a BigInt default, so it gets a text one). */
export function seedOption(description: string, fallback: bigint | undefined = 1n): Option {
  const option = new Option("--seed <n>", description).argParser(parseSeed);
  return fallback === undefined ? option : option.default(fallback, fallback.toString());
}

export function parsePositiveInt(value: string): number {
  const n = Number(value.replace(/_/g, ""));
  if (!Number.isInteger(n) || n <= 0) throw new InvalidArgumentError(`expected a positive integer, found "${value}"`);
  return n;
}

export function parsePositiveNumber(value: string): number {
  const n = Number(value.replace(/_/g, ""));
  if (!(n > 0) || !Number.isFinite(n)) throw new InvalidArgumentError(`expected a positive number, found "${value}"`);
  return n;
}

export function parsePercent(value: string): number {
  const n = Number(value);
  if (!(n >= 0 && n <= 100)) throw new InvalidArgumentError(`expected a percentage 0..100, found "${value}"`);
  return n;
}

export function parseTaxes(value: string): number[] {
  const taxes = value.split(",").map((part) => Number(part.trim()));
  if (taxes.length === 0 || taxes.some((t) => !(t >= 0 && t < 1))) {
    throw new InvalidArgumentError(`expected tax rates from 0 to below 1, separated by commas, found "${value}"`);
  }
  return taxes;
}

export function parseScale(value: string): number {
  const fraction = /^1\/(\d+)$/.exec(value);
  const scale = fraction ? 1 / Number(fraction[1]) : Number(value);
  if (!(scale > 0 && scale <= 1)) throw new InvalidArgumentError(`expected a scale in (0, 1], e.g. 0.125 or 1/8, found "${value}"`);
  return scale;
}
