// Well-known keys of the conformance suite. ROGUE_OEM is an OEM factory key derived from a public
// seed: no registry may ever pin it. The enrolment scenario endorses a handset with it and checks
// that the registry refuses to enrol it; a registry that pins it (or accepts any OEM) fails.
import { createHash } from "node:crypto";
import { nodeSigner, privateKeyFromSeed } from "../../attestation/index.js";

const seed = (label: string): Uint8Array => new Uint8Array(createHash("sha256").update(label).digest());

export const ROGUE_OEM = nodeSigner(privateKeyFromSeed(seed("antitheft conformance: rogue OEM (never pin this key)")));
