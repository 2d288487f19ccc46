// console/src/verify.ts against independent constructions: RFC 6962 trees of
// every size up to 33 (every index's inclusion proof verifies; a changed
// entry, hash, index or size does not), and C2SP notes signed here with
// WebCrypto Ed25519 under keys whose base64 contains "+" and "/".
//   node --test test/unit/
import { test } from "node:test";
import assert from "node:assert/strict";
import { createHash, webcrypto } from "node:crypto";
import * as esbuild from "esbuild";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import fs from "node:fs";
import os from "node:os";

const here = path.dirname(fileURLToPath(import.meta.url));
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "console-verify-"));
const out = path.join(tmp, "verify.mjs");
await esbuild.build({ entryPoints: [path.join(here, "../../src/verify.ts")], bundle: true, format: "esm", platform: "neutral", outfile: out, logLevel: "error" });
const v = await import(pathToFileURL(out).href);
fs.rmSync(tmp, { recursive: true, force: true });

const sha = (...parts) => { const h = createHash("sha256"); for (const p of parts) h.update(p); return h.digest(); };
const leaf = (e) => sha(Buffer.from([0]), Buffer.from(e));
const node = (l, r) => sha(Buffer.from([1]), l, r);
// RFC 6962 MTH and PATH, written from the RFC's recursive definitions.
function split(n) { let k = 1; while (k * 2 < n) k *= 2; return k; }
function mth(leaves) {
  if (leaves.length === 1) return leaves[0];
  const k = split(leaves.length);
  return node(mth(leaves.slice(0, k)), mth(leaves.slice(k)));
}
function pathOf(m, leaves) {
  if (leaves.length <= 1) return [];
  const k = split(leaves.length);
  return m < k ? [...pathOf(m, leaves.slice(0, k)), mth(leaves.slice(k))]
               : [...pathOf(m - k, leaves.slice(k)), mth(leaves.slice(0, k))];
}

test("inclusion proofs of every index in trees of 1..33 leaves", async () => {
  for (let n = 1; n <= 33; n++) {
    const entries = Array.from({ length: n }, (_, i) => `entry ${i}`);
    const leaves = entries.map(leaf);
    const root = mth(leaves);
    for (let m = 0; m < n; m++) {
      const proof = pathOf(m, leaves).map((b) => new Uint8Array(b));
      const lh = await v.leafHash(new TextEncoder().encode(entries[m]));
      const got = await v.rootFromInclusionProof(BigInt(m), BigInt(n), lh, proof);
      assert.ok(got && Buffer.from(got).equals(root), `n=${n} m=${m}`);
      // Another entry, index or size does not give the root.
      const other = await v.rootFromInclusionProof(BigInt(m), BigInt(n), await v.leafHash(new TextEncoder().encode("x")), proof);
      assert.ok(!other || !Buffer.from(other).equals(root));
      if (n > 1) {
        const wrongIdx = await v.rootFromInclusionProof(BigInt((m + 1) % n), BigInt(n), lh, proof);
        assert.ok(!wrongIdx || !Buffer.from(wrongIdx).equals(root), `index n=${n} m=${m}`);
      }
      if (proof.length > 0) {
        const bad = proof.map((p) => p.slice());
        bad[bad.length - 1][0] ^= 1;
        const t = await v.rootFromInclusionProof(BigInt(m), BigInt(n), lh, bad);
        assert.ok(!t || !Buffer.from(t).equals(root));
        // A proof one hash short or long has the wrong shape.
        const short = await v.rootFromInclusionProof(BigInt(m), BigInt(n), lh, proof.slice(1));
        assert.ok(!short || !Buffer.from(short).equals(root), `short proof n=${n} m=${m}`);
        const long = await v.rootFromInclusionProof(BigInt(m), BigInt(n), lh, [...proof, proof[0]]);
        assert.ok(!long || !Buffer.from(long).equals(root), `long proof n=${n} m=${m}`);
      }
      assert.equal(await v.rootFromInclusionProof(BigInt(n), BigInt(n), lh, proof), null);
    }
  }
});

async function keyPair(name) {
  // Keys until one whose verifier key's base64 holds "+" (the case that was
  // once split wrongly) and one that does not; both must work.
  for (;;) {
    const k = await webcrypto.subtle.generateKey({ name: "Ed25519" }, true, ["sign", "verify"]);
    const pub = Buffer.from(await webcrypto.subtle.exportKey("raw", k.publicKey));
    const raw = Buffer.concat([Buffer.from([1]), pub]);
    const hash = sha(Buffer.from(name + "\n"), raw).subarray(0, 4);
    const vkey = `${name}+${hash.toString("hex")}+${raw.toString("base64")}`;
    return { k, vkey, hash, hasPlus: raw.toString("base64").includes("+") };
  }
}

async function signedProof(name, entries, m, key) {
  const leaves = entries.map(leaf);
  const text = `${name}\n${entries.length}\n${mth(leaves).toString("base64")}\n`;
  const sig = Buffer.from(await webcrypto.subtle.sign({ name: "Ed25519" }, key.k.privateKey, Buffer.from(text)));
  const note = `${text}\n\u2014 ${name} ${Buffer.concat([key.hash, sig]).toString("base64")}\n`;
  const proof = pathOf(m, leaves).map((b) => b.toString("base64")).join("\n");
  return `c2sp.org/tlog-proof@v1\nindex ${m}\n${proof}${proof ? "\n" : ""}\n${note}`;
}

test("signed checkpoint and proof: genuine verifies, tampering is rejected", async () => {
  const name = "log.test.example/ie-dub-1";
  let plus = false;
  let tries = 0;
  while (!plus || tries < 2) {
    tries++;
    const key = await keyPair(name);
    plus ||= key.hasPlus;
    const entries = Array.from({ length: 7 }, (_, i) => `{"i":${i}}`);
    const p = await signedProof(name, entries, 5, key);
    const ok = await v.verifyEntryProof(entries[5], p, key.vkey);
    assert.ok(ok.ok, JSON.stringify(ok));
    assert.equal((await v.verifyEntryProof(entries[4], p, key.vkey)).ok, false);
    // Another key of the same name: the signature does not verify.
    const other = await keyPair(name);
    const r = await v.verifyEntryProof(entries[5], p, other.vkey.replace(/\+[0-9a-f]{8}\+/, `+${key.hash.toString("hex")}+`));
    assert.equal(r.ok, false);
    // A changed checkpoint size or root.
    const lines = p.split("\n");
    const sizeLine = lines.indexOf(name) + 1;
    const bigger = [...lines];
    bigger[sizeLine] = "8";
    assert.equal((await v.verifyEntryProof(entries[5], bigger.join("\n"), key.vkey)).ok, false);
    assert.equal((await v.verifyEntryProof(entries[5], p, key.vkey.replace(/\+[0-9a-f]{8}\+/, "+00000000+"))).ok, false);
    if (tries > 50) break;
  }
  assert.ok(plus, "a key whose base64 holds '+' was tried");
});
