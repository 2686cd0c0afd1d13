/**
 * The worker isolate that checks passwords against bcrypt and argon2id hashes (hash-wasm,
 * WebAssembly), so that a check (tens to hundreds of milliseconds of CPU) never holds up the
 * event loop that serves requests. Messages: `{ id, password, hash }` in, `{ id, ok }` out.
 * Self-contained on purpose: the container allows reading this one file (Dockerfile).
 *
 * Tested by basic_auth_test.ts.
 */
import { argon2Verify, bcryptVerify } from "hash-wasm";

interface Check {
  readonly id: number;
  readonly password: string;
  readonly hash: string;
}

self.onmessage = async (event: MessageEvent<Check>) => {
  const { id, password, hash } = event.data;
  let ok = false;
  try {
    ok = hash.startsWith("$argon2id$")
      ? await argon2Verify({ password, hash })
      : await bcryptVerify({ password, hash });
  } catch {
    ok = false;
  }
  self.postMessage({ id, ok });
};
