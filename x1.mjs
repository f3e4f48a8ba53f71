import { createCa, certificateIssuer } from "./dist/transport/pki.js";
import { writeFileSync } from "node:fs";
const ca = await createCa("x"); const iss = await certificateIssuer(ca);
const ids = await Promise.all(Array.from({length: 3000}, () => iss.issue({cn: "a".repeat(32), usage: "client"})));
writeFileSync("/tmp/ids.json", JSON.stringify({ ca: ca.certPem, ids }));
