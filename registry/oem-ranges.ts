// Which IMEIs each pinned OEM root may endorse (docs/PROTOCOL.md §6.1). A TAC (the first 8 digits
// of an IMEI, TS 23.003 §6.2.1) is allocated to one manufacturer by the GSMA, so an OEM root is
// pinned with the TAC ranges its allocations cover: an endorsement it signs for an IMEI outside
// them (another maker's phone - say, a victim's IMEI on a second key, to have it greylisted as a
// clone) is refused and logged, whatever its signature. A root pinned with no ranges may endorse
// any TAC (a registry that has not yet configured them); the registry warns about it at start.
import type { KeyObject } from "node:crypto";
import { kidOfPublic, toHex } from "../attestation/index.js";
import { toRawPublic } from "../attestation/cose/key.js";
import { RegistryError } from "./errors.js";

export type PublicKeyInput = Uint8Array | KeyObject | string;

/** An inclusive range of 8-digit TACs. */
export interface TacRange {
  readonly from: string;
  readonly to: string;
}

/** An OEM root with the TAC ranges it is pinned for. */
export interface PinnedOem {
  readonly key: PublicKeyInput;
  /** Ranges, or their text form "35123400-35123499,86123456"; absent: any TAC. */
  readonly tacs?: readonly TacRange[] | string;
}

/** "35123400-35123499,86123456" -> ranges (E_CONFIG on anything else). */
export function parseTacRanges(text: string): TacRange[] {
  const out: TacRange[] = [];
  for (const part of text.split(",").map((p) => p.trim())) {
    const m = /^([0-9]{8})(?:-([0-9]{8}))?$/.exec(part);
    if (!m || (m[2] !== undefined && m[2] < m[1]!)) {
      throw new RegistryError("E_CONFIG", `"${part}" is not a TAC (8 digits) or a range of TACs (FROM-TO, FROM <= TO)`);
    }
    out.push({ from: m[1]!, to: m[2] ?? m[1]! });
  }
  if (out.length === 0) throw new RegistryError("E_CONFIG", "an empty TAC range list");
  return out;
}

export function isPinnedOem(x: unknown): x is PinnedOem {
  return typeof x === "object" && x !== null && !(x instanceof Uint8Array) && "key" in x && !("asymmetricKeyType" in x);
}

export class OemTacPolicy {
  readonly #ranges = new Map<string, readonly TacRange[]>();
  /** Hex kids of roots pinned without ranges. */
  readonly unranged: string[] = [];

  constructor(roots: readonly (PublicKeyInput | PinnedOem)[]) {
    for (const r of roots) {
      const pinned = isPinnedOem(r) ? r : { key: r };
      const kid = toHex(kidOfPublic(toRawPublic(pinned.key)));
      if (pinned.tacs === undefined) {
        this.unranged.push(kid);
        continue;
      }
      this.#ranges.set(kid, typeof pinned.tacs === "string" ? parseTacRanges(pinned.tacs) : [...pinned.tacs]);
    }
  }

  /** Why the root `oemKid` may not endorse `imeis`, or undefined when it may. */
  problem(oemKid: Uint8Array, imeis: readonly (string | undefined)[]): string | undefined {
    const ranges = this.#ranges.get(toHex(oemKid));
    if (!ranges) return undefined;
    for (const imei of imeis) {
      if (imei === undefined) continue;
      const tac = imei.slice(0, 8);
      if (!ranges.some((r) => tac >= r.from && tac <= r.to)) {
        return `E_OEM_RANGE: OEM root ${toHex(oemKid)} endorses IMEI ${imei}, whose TAC ${tac} is outside its pinned ranges ${ranges.map((r) => (r.from === r.to ? r.from : `${r.from}-${r.to}`)).join(",")}`;
      }
    }
    return undefined;
  }
}
