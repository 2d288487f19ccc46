// Verification in the browser (issue 22 item 8): C2SP signed notes with
// Ed25519 (WebCrypto) and RFC 6962 inclusion proofs (SHA-256 via WebCrypto),
// so a reader need not trust the server that shows them.

const enc = new TextEncoder();

export function b64decode(s: string): Uint8Array {
  const bin = atob(s.trim());
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

function concat(...parts: Uint8Array[]): Uint8Array {
  const n = parts.reduce((a, p) => a + p.length, 0);
  const out = new Uint8Array(n);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

async function sha256(data: Uint8Array): Promise<Uint8Array> {
  return new Uint8Array(await crypto.subtle.digest("SHA-256", data as BufferSource));
}

function equal(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let d = 0;
  for (let i = 0; i < a.length; i++) d |= a[i] ^ b[i];
  return d === 0;
}

export function hex(b: Uint8Array): string {
  return Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
}

export async function leafHash(entry: Uint8Array): Promise<Uint8Array> {
  return sha256(concat(new Uint8Array([0]), entry));
}

async function nodeHash(l: Uint8Array, r: Uint8Array): Promise<Uint8Array> {
  return sha256(concat(new Uint8Array([1]), l, r));
}

// RFC 9162 section 2.1.3.2: the root that `proof` gives for leaf `index` of a
// tree of `size` leaves, or null when the proof has the wrong shape.
export async function rootFromInclusionProof(
  index: bigint,
  size: bigint,
  leaf: Uint8Array,
  proof: Uint8Array[],
): Promise<Uint8Array | null> {
  if (index >= size) return null;
  let fn = index;
  let sn = size - 1n;
  let r = leaf;
  for (const p of proof) {
    if (sn === 0n) return null;
    if ((fn & 1n) === 1n || fn === sn) {
      r = await nodeHash(p, r);
      if ((fn & 1n) === 0n) {
        while ((fn & 1n) === 0n && fn !== 0n) {
          fn >>= 1n;
          sn >>= 1n;
        }
      }
    } else {
      r = await nodeHash(r, p);
    }
    fn >>= 1n;
    sn >>= 1n;
  }
  return sn === 0n ? r : null;
}

export interface Checkpoint {
  origin: string;
  size: bigint;
  root: Uint8Array;
  text: string; // the signed body, up to and including its last newline
  signatures: { name: string; keyHash: Uint8Array; sig: Uint8Array }[];
}

// A C2SP signed note holding a tlog checkpoint.
export function parseCheckpoint(note: string): Checkpoint {
  const split = note.indexOf("\n\n");
  if (split < 0) throw new Error("checkpoint: no signature block");
  const text = note.slice(0, split + 1);
  const lines = text.split("\n");
  if (lines.length < 4) throw new Error("checkpoint: too few lines");
  if (!/^[0-9]+$/.test(lines[1])) throw new Error("checkpoint: bad size");
  const root = b64decode(lines[2]);
  if (root.length !== 32) throw new Error("checkpoint: bad root hash");
  const signatures = [];
  for (const line of note.slice(split + 2).split("\n")) {
    if (line === "") continue;
    const m = /^\u2014 (\S+) (\S+)$/.exec(line);
    if (!m) throw new Error("checkpoint: bad signature line");
    const raw = b64decode(m[2]);
    if (raw.length < 5) throw new Error("checkpoint: short signature");
    signatures.push({ name: m[1], keyHash: raw.slice(0, 4), sig: raw.slice(4) });
  }
  return { origin: lines[0], size: BigInt(lines[1]), root, text, signatures };
}

export interface VerifierKey {
  name: string;
  keyHash: Uint8Array;
  type: number;
  publicKey: Uint8Array;
}

// "<name>+<hex key hash>+<base64(type || public key)>" (C2SP signed-note).
export async function parseVerifierKey(vkey: string): Promise<VerifierKey> {
  // The name holds no "+", but the base64 key may.
  const m = /^([^+\s]+)\+([0-9a-fA-F]{8})\+(\S+)$/.exec(vkey.trim());
  if (!m) throw new Error("verifier key: expected name+hash+key");
  const [, name, hashHex, keyB64] = m;
  const raw = b64decode(keyB64);
  if (raw.length !== 33) throw new Error("verifier key: expected a 32-byte key");
  const keyHash = (await sha256(concat(enc.encode(name + "\n"), raw))).slice(0, 4);
  if (hex(keyHash) !== hashHex.toLowerCase()) {
    throw new Error("verifier key: the key hash does not match the key");
  }
  return { name, keyHash, type: raw[0], publicKey: raw.slice(1) };
}

async function ed25519Verify(pub: Uint8Array, sig: Uint8Array, msg: Uint8Array) {
  const key = await crypto.subtle.importKey("raw", pub as BufferSource, { name: "Ed25519" }, false, [
    "verify",
  ]);
  return crypto.subtle.verify({ name: "Ed25519" }, key, sig as BufferSource, msg as BufferSource);
}

// True when `cp` carries a valid Ed25519 note signature (type 0x01) by `key`.
export async function checkpointSignedBy(cp: Checkpoint, key: VerifierKey): Promise<boolean> {
  if (key.type !== 0x01) throw new Error("verifier key: not an Ed25519 note key");
  for (const s of cp.signatures) {
    if (s.name !== key.name || !equal(s.keyHash, key.keyHash) || s.sig.length !== 64) continue;
    if (await ed25519Verify(key.publicKey, s.sig, enc.encode(cp.text))) return true;
  }
  return false;
}

export interface TlogProof {
  index: bigint;
  proof: Uint8Array[];
  checkpoint: string;
}

// c2sp.org/tlog-proof@v1
export function parseTlogProof(text: string): TlogProof {
  const lines = text.split("\n");
  if (lines[0] !== "c2sp.org/tlog-proof@v1") throw new Error("proof: bad header");
  let i = 1;
  if (lines[i]?.startsWith("extra ")) i++;
  const m = /^index ([0-9]+)$/.exec(lines[i] ?? "");
  if (!m) throw new Error("proof: no index line");
  i++;
  const proof: Uint8Array[] = [];
  for (; i < lines.length && lines[i] !== ""; i++) {
    const h = b64decode(lines[i]);
    if (h.length !== 32) throw new Error(`proof: line ${i + 1} is not a hash`);
    proof.push(h);
  }
  if (i >= lines.length) throw new Error("proof: no checkpoint");
  return { index: BigInt(m[1]), proof, checkpoint: lines.slice(i + 1).join("\n") };
}

export interface VerifyResult {
  ok: boolean;
  steps: { what: string; ok: boolean }[];
  error?: string;
}

// Verifies that `entry` is in the log whose checkpoint (signed by `vkey`) the
// proof names. Every step is reported; ok only when all hold.
export async function verifyEntryProof(
  entry: string,
  proofText: string,
  vkey: string,
): Promise<VerifyResult> {
  const steps: { what: string; ok: boolean }[] = [];
  try {
    const p = parseTlogProof(proofText);
    const cp = parseCheckpoint(p.checkpoint);
    const key = await parseVerifierKey(vkey);
    const sigOk = await checkpointSignedBy(cp, key);
    steps.push({ what: `checkpoint of ${cp.origin} (size ${cp.size}) signed by ${key.name} (Ed25519)`, ok: sigOk });
    const leaf = await leafHash(enc.encode(entry));
    const root = await rootFromInclusionProof(p.index, cp.size, leaf, p.proof);
    const incOk = root !== null && equal(root, cp.root);
    steps.push({ what: `entry ${p.index} included under the checkpoint's root (RFC 6962, ${p.proof.length} hashes)`, ok: incOk });
    return { ok: sigOk && incOk, steps };
  } catch (e) {
    return { ok: false, steps, error: (e as Error).message };
  }
}
