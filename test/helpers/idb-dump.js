/**
 * An IndexedDB database as JSON, and back: every object store with its key
 * path, auto-increment flag, indexes and records (with each record's key when
 * the store's keys are out of line). Binary values (Uint8Array, ArrayBuffer)
 * become {"$hearthBytes": base64} / {"$hearthBuffer": base64}.
 *
 * Plain JavaScript evaluated as text (see idb-dump.ts): the same source runs
 * in Chromium pages (page.evaluate) and in Node against fake-indexeddb, with
 * no transpiler helpers that a page would not have. It only defines the two
 * functions below; each takes the IDBFactory to use.
 *
 * Used by the migration fixtures (test/fixtures/migrations/) and the browser
 * crash harness (a crashed profile's database, checked in Node).
 */

/* biome-ignore lint/correctness/noUnusedVariables: called by the code that evaluates this source */
async function hearthIdbDump(factory, name) {
  const toBase64 = (bytes) => {
    let s = '';
    for (let i = 0; i < bytes.length; i += 0x8000) s += String.fromCharCode.apply(null, bytes.subarray(i, i + 0x8000));
    return btoa(s);
  };
  const encode = (v) => {
    if (v instanceof Uint8Array) return { $hearthBytes: toBase64(v) };
    if (v instanceof ArrayBuffer) return { $hearthBuffer: toBase64(new Uint8Array(v)) };
    if (Array.isArray(v)) return v.map(encode);
    if (v !== null && typeof v === 'object') {
      const out = {};
      for (const [k, x] of Object.entries(v)) if (x !== undefined) out[k] = encode(x);
      return out;
    }
    return v;
  };
  const req = (r) =>
    new Promise((resolve, reject) => {
      r.onsuccess = () => resolve(r.result);
      r.onerror = () => reject(r.error);
    });
  const open = factory.open(name);
  // Opening without a version never upgrades an existing database; one that does not exist would be
  // created at version 1: abort that instead of leaving an empty database behind.
  open.onupgradeneeded = () => open.transaction.abort();
  const db = await req(open).catch((e) => {
    throw new Error(`no database ${name} (${e?.name})`);
  });
  try {
    const stores = [];
    const names = [...db.objectStoreNames];
    if (names.length > 0) {
      const tx = db.transaction(names, 'readonly');
      for (const storeName of names) {
        const os = tx.objectStore(storeName);
        const [keys, values] = await Promise.all([req(os.getAllKeys()), req(os.getAll())]);
        const indexes = [...os.indexNames].map((n) => {
          const ix = os.index(n);
          return { name: n, keyPath: ix.keyPath, unique: ix.unique, multiEntry: ix.multiEntry };
        });
        stores.push({
          name: storeName,
          keyPath: os.keyPath,
          autoIncrement: os.autoIncrement,
          indexes,
          records: values.map((v, i) => (os.keyPath === null ? { key: encode(keys[i]), value: encode(v) } : { value: encode(v) })),
        });
      }
    }
    return { name, version: db.version, stores };
  } finally {
    db.close();
  }
}

/* biome-ignore lint/correctness/noUnusedVariables: called by the code that evaluates this source */
async function hearthIdbRestore(factory, dump, asName) {
  const fromBase64 = (s) => {
    const bin = atob(s);
    const out = new Uint8Array(bin.length);
    for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
    return out;
  };
  const decode = (v) => {
    if (Array.isArray(v)) return v.map(decode);
    if (v !== null && typeof v === 'object') {
      if (typeof v.$hearthBytes === 'string') return fromBase64(v.$hearthBytes);
      if (typeof v.$hearthBuffer === 'string') return fromBase64(v.$hearthBuffer).buffer;
      const out = {};
      for (const [k, x] of Object.entries(v)) out[k] = decode(x);
      return out;
    }
    return v;
  };
  const name = asName || dump.name;
  const open = factory.open(name, dump.version);
  let fresh = false;
  open.onupgradeneeded = (event) => {
    if (event.oldVersion !== 0) return; // exists already: refused below
    fresh = true;
    const db = open.result;
    for (const s of dump.stores) {
      const os = db.createObjectStore(s.name, { keyPath: s.keyPath, autoIncrement: s.autoIncrement });
      for (const ix of s.indexes) os.createIndex(ix.name, ix.keyPath, { unique: ix.unique, multiEntry: ix.multiEntry });
    }
  };
  const db = await new Promise((resolve, reject) => {
    open.onsuccess = () => resolve(open.result);
    open.onerror = () => reject(open.error);
  });
  try {
    if (!fresh) throw new Error(`database ${name} exists already`);
    const names = dump.stores.map((s) => s.name);
    if (names.length === 0) return;
    const tx = db.transaction(names, 'readwrite');
    for (const s of dump.stores) {
      const os = tx.objectStore(s.name);
      for (const r of s.records) {
        if (s.keyPath === null) os.put(decode(r.value), decode(r.key));
        else os.put(decode(r.value));
      }
    }
    await new Promise((resolve, reject) => {
      tx.oncomplete = () => resolve(undefined);
      tx.onerror = () => reject(tx.error);
      tx.onabort = () => reject(tx.error || new Error('restore aborted'));
    });
  } finally {
    db.close();
  }
}
