// Entry page: checks the entry's inclusion proof against the signed checkpoint root with Web Crypto (no server trust).
(function () {
  "use strict";

  const enc = new TextEncoder();

  function fromHex(value, what) {
    if (typeof value !== "string" || !/^[0-9a-f]{64}$/.test(value)) throw new Error(what + " is not 64 hex digits");
    return Uint8Array.from(value.match(/../g), (pair) => parseInt(pair, 16));
  }

  function fromBase64(value) {
    return Uint8Array.from(atob(value), (c) => c.charCodeAt(0));
  }

  function toHex(bytes) {
    return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
  }

  function equal(a, b) {
    if (a.length !== b.length) return false;
    let diff = 0;
    for (let i = 0; i < a.length; i++) diff |= a[i] ^ b[i];
    return diff === 0;
  }

  async function sha256(...parts) {
    const length = parts.reduce((n, p) => n + p.length, 0);
    const data = new Uint8Array(length);
    let offset = 0;
    for (const part of parts) {
      data.set(part, offset);
      offset += part.length;
    }
    return new Uint8Array(await crypto.subtle.digest("SHA-256", data));
  }

  const node = (left, right) => sha256(Uint8Array.of(1), left, right);

  // RFC 9162 §2.1.3.2, with BigInt so sizes beyond 2^32 keep their bits.
  async function rootFromPath(index, size, leaf, path) {
    let fn = BigInt(index);
    let sn = BigInt(size) - 1n;
    if (fn > sn) throw new Error("the leaf index is outside the tree");
    let r = leaf;
    for (const p of path) {
      if (sn === 0n) throw new Error("the proof is longer than the tree is deep");
      if ((fn & 1n) === 1n || fn === sn) {
        r = await node(p, r);
        while ((fn & 1n) === 0n && fn !== 0n) {
          fn >>= 1n;
          sn >>= 1n;
        }
      } else {
        r = await node(r, p);
      }
      fn >>= 1n;
      sn >>= 1n;
    }
    if (sn !== 0n) throw new Error("the proof is too short for the tree size");
    return r;
  }

  async function checkSignature(checkpoint, publicKey) {
    const body =
      checkpoint.origin + "\n" + checkpoint.tree_size + "\n" +
      btoa(String.fromCharCode(...fromHex(checkpoint.root_hash, "root"))) + "\n" +
      "timestamp " + checkpoint.timestamp + "\n";
    try {
      const key = await crypto.subtle.importKey("raw", fromBase64(publicKey), { name: "Ed25519" }, false, ["verify"]);
      return await crypto.subtle.verify({ name: "Ed25519" }, key, fromBase64(checkpoint.signature), enc.encode(body));
    } catch (error) {
      return null; // this browser has no Ed25519 in Web Crypto
    }
  }

  async function verify(data) {
    const { checkpoint, proof } = data;
    if (proof.tree_size !== checkpoint.tree_size) throw new Error("the proof is not for the checkpoint's tree size");
    if (proof.leaf_index !== data.seq - 1) throw new Error("the proof is for another entry");
    const entryHash = await sha256(fromHex(data.prev_entry_hash, "prev_entry_hash"), enc.encode(data.canonical));
    if (!equal(entryHash, fromHex(data.entry_hash, "entry_hash"))) {
      throw new Error("entry_hash is not SHA-256(prev_entry_hash ‖ canonical)");
    }
    const leaf = await sha256(Uint8Array.of(0), entryHash);
    if (!equal(leaf, fromHex(proof.leaf_hash, "leaf_hash"))) throw new Error("the leaf hash is not this entry's");
    const path = proof.audit_path.map((h, i) => fromHex(h, "audit path element " + i));
    const root = await rootFromPath(proof.leaf_index, proof.tree_size, leaf, path);
    if (!equal(root, fromHex(checkpoint.root_hash, "root"))) throw new Error("the path does not lead to the signed root");
    const signature = await checkSignature(checkpoint, data.public_key);
    if (signature === false) throw new Error("the checkpoint's signature does not verify with the server's public key");
    return { root: toHex(root), signature };
  }

  document.addEventListener("DOMContentLoaded", () => {
    const button = document.getElementById("verify-proof");
    const output = document.getElementById("verify-result");
    const source = document.getElementById("proof-data");
    if (!button || !output || !source) return;
    button.addEventListener("click", async () => {
      output.className = "";
      output.textContent = "checking…";
      if (!window.crypto || !crypto.subtle) {
        output.className = "badge badge-warn";
        output.textContent = "This browser offers no Web Crypto here (it needs https or localhost).";
        return;
      }
      try {
        const result = await verify(JSON.parse(source.textContent));
        output.className = "badge badge-ok";
        output.dataset.outcome = "verified";
        output.textContent =
          "Verified: this entry is in the signed tree, root " + result.root.slice(0, 16) + "…" +
          (result.signature ? " (signature checked)" : " (signature not checked: no Ed25519 in this browser)");
      } catch (error) {
        output.className = "badge badge-bad";
        output.dataset.outcome = "failed";
        output.textContent = "NOT verified: " + error.message;
      }
    });
  });
})();
