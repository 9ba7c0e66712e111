import { randomBytes } from 'node:crypto';

const ALPHABET = '0123456789abcdefghjkmnpqrstvwxyz'; // Crockford base32, lowercase

/** A URL-safe, DNS-safe pod id: `p` + 16 base32 characters (80 random bits). */
export function newPodId(): string {
  const bytes = randomBytes(10);
  let bits = 0;
  let value = 0;
  let out = 'p';
  for (const b of bytes) {
    value = (value << 8) | b;
    bits += 8;
    while (bits >= 5) {
      out += ALPHABET[(value >>> (bits - 5)) & 31];
      bits -= 5;
    }
  }
  return out;
}

export const POD_ID_PATTERN = /^p[0-9a-hjkmnp-tv-z]{16}$/;

export const containerNameFor = (podId: string) => `pinacle-pod-${podId}`;
export const volumeNameFor = (podId: string) => `pinacle-ws-${podId}`;
