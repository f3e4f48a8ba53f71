// The bulk load of the "eir" benchmark section (eir-data.ts) in its own OS process:
// `node eir-data-process.js <sqlite path | postgres:// url> <devices>`. The registry measured
// afterwards starts in the benchmark's process like a freshly started registry, without the
// load's million rows of garbage in its heap (a major collection during the measurement).
import { Store } from "../../registry/store.js";
import { loadEirData } from "./eir-data.js";

const [db, n] = process.argv.slice(2);
const store = Store.open(db!);
try {
  loadEirData(store, Number(n));
} finally {
  store.close();
}
