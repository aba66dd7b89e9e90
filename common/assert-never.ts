/** Exhaustiveness check for `switch` on a discriminated union's `type` tag. */
export function assertNever(value: never, what = 'value'): never {
  throw new Error(`unexpected ${what}: ${JSON.stringify(value)}`);
}
