/**
 * The name-matching cases every user of HostTable must pass (the table itself, HTTP routing,
 * TCP routing by SNI, the certificate store): one definition, run by each user's test against
 * its own API. Test-only.
 */

export interface HostCase {
  readonly name: string;
  /** The pattern that must win, or null when none covers the name. */
  readonly winner: string | null;
}

/** Patterns in the order they are declared; the first claim of a name wins. */
export const HOST_PATTERNS = [
  "api.example.com",
  "*.example.com",
  "other.test",
  "*.deep.example.com",
  "*.other.test",
] as const;

export const HOST_CASES: readonly HostCase[] = [
  { name: "api.example.com", winner: "api.example.com" },
  { name: "API.Example.COM", winner: "api.example.com" },
  { name: "api.example.com.", winner: "api.example.com" },
  { name: "www.example.com", winner: "*.example.com" },
  { name: "x.deep.example.com", winner: "*.deep.example.com" },
  { name: "deep.example.com", winner: "*.example.com" },
  { name: "a.b.example.com", winner: null },
  { name: "example.com", winner: null },
  { name: "other.test", winner: "other.test" },
  { name: "a.other.test", winner: "*.other.test" },
  { name: "test", winner: null },
  { name: "", winner: null },
  { name: ".example.com", winner: null },
];

/** Runs every case: `lookup` returns the winning pattern for a name, or null. */
export function checkHostCases(lookup: (name: string) => string | null): string[] {
  const failures: string[] = [];
  for (const c of HOST_CASES) {
    const got = lookup(c.name);
    if (got !== c.winner) failures.push(`${JSON.stringify(c.name)}: got ${got}, want ${c.winner}`);
  }
  return failures;
}
