import { createSecureContext } from "node:tls";
import { readFileSync } from "node:fs";
const { ca, ids } = JSON.parse(readFileSync("/tmp/ids.json", "utf8"));
const mode = process.argv[2];
const gc = async () => { for (let i=0;i<3;i++){ global.gc(); await new Promise(r=>setTimeout(r,50)); } };
createSecureContext({ ca, cert: ids[0].certPem, key: ids[0].keyPem });
await gc(); const r0 = process.memoryUsage().rss;
const keep = ids.map((i) => mode === "ca" ? createSecureContext({ ca, cert: i.certPem, key: i.keyPem }) : mode === "noca" ? createSecureContext({ cert: i.certPem, key: i.keyPem }) : mode === "sigalgs" ? createSecureContext({ ca, cert: i.certPem, key: i.keyPem, ciphers: "TLS_AES_128_GCM_SHA256:ECDHE-ECDSA-AES128-GCM-SHA256", ecdhCurve: "P-256", sigalgs: "ecdsa_secp256r1_sha256" }) : createSecureContext({}));
await gc(); console.log(mode, ((process.memoryUsage().rss - r0)/1024/ids.length).toFixed(1), "KiB per context", keep.length);
