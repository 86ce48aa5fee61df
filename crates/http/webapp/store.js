// What the app keeps on this device, in IndexedDB (never localStorage): the device record
// with the non-extractable device key (a CryptoKey, kept as the object itself: IndexedDB
// stores it by structured cloning, so its private half never exists as bytes this page
// could read) and the device PIN key (a non-extractable HKDF key).

const DB = "sesam-app";
const STORE = "keys";

function open() {
  return new Promise((resolve, reject) => {
    const req = indexedDB.open(DB, 1);
    req.onupgradeneeded = () => req.result.createObjectStore(STORE);
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error);
  });
}

async function run(mode, action) {
  const db = await open();
  try {
    return await new Promise((resolve, reject) => {
      const tx = db.transaction(STORE, mode);
      const req = action(tx.objectStore(STORE));
      tx.oncomplete = () => resolve(req.result);
      tx.onerror = () => reject(tx.error);
      tx.onabort = () => reject(tx.error);
    });
  } finally {
    db.close();
  }
}

export const get = (key) => run("readonly", (s) => s.get(key));
export const put = (key, value) => run("readwrite", (s) => s.put(value, key));
export const remove = (key) => run("readwrite", (s) => s.delete(key));

/** The activated device: { deviceId, userId, deviceName, privateKey, publicKey, pinKey }. */
export const device = () => get("device");
export const saveDevice = (d) => put("device", d);
export const forgetDevice = () => remove("device");
