// The owner portal end to end in a real browser: Debian's Chromium driven by playwright-core,
// with Chrome's virtual WebAuthn authenticator (CDP WebAuthn domain) standing in for the owner's
// phone or security key. The owner signs up with a passkey, claims a simulated handset (the
// handset makes the user-present, registration-purpose proof for the code shown on the page and
// hands it in), reports it stolen and sees it lock and turn BLACKLISTED, checks the IMEI on the
// public page as a buyer would, reports it found and sees it unlock. Every page is checked with
// axe-core (no serious or critical violations); screenshots go to test-output/portal/.
// Chromium missing: skipped with the reason, or failed with REQUIRE_SYSTEM_TOOLS=1 (CI).
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { join } from "node:path";
import axe from "axe-core";
import { chromium, type Page } from "playwright-core";
import { startHarness, waitFor } from "./support/registry-sim.js";
import { claimProofFor } from "./support/claim.js";
import { needTool } from "./support/system-tools.js";
import { RegistryClient } from "../registry/client.js";

const OUT = fileURLToPath(new URL("../../test-output/portal/", import.meta.url));
const CHROMIUM = "/usr/bin/chromium";

interface Violation {
  id: string;
  impact: string | null;
  help: string;
  nodes: { target: string[] }[];
}

/** axe-core on the page as it stands: the serious and critical violations (WCAG 2.1 A/AA rules and best practices). */
async function axeViolations(page: Page): Promise<Violation[]> {
  // Evaluated through the DevTools protocol, so the page's CSP (no inline scripts) stays on.
  await page.evaluate(axe.source);
  const r = await page.evaluate(() => (globalThis as unknown as { axe: typeof axe }).axe.run(document, { resultTypes: ["violations"] }));
  return (r.violations as unknown as Violation[]).filter((v) => v.impact === "serious" || v.impact === "critical");
}

test("owner portal in Chromium: passkey sign-up, claim, report stolen -> locked and BLACKLISTED, public check, found -> unlocked; axe on every page", async (t) => {
  if (!needTool(t, "chromium")) return;
  mkdirSync(OUT, { recursive: true });
  const h = await startHarness();
  t.after(() => h.close());
  const origin = `http://localhost:${new URL(h.url).port}`; // a passkey's RP id is a host name, never an IP
  const hs = h.handset();
  const d = h.device(hs);
  await d.connect();
  await waitFor(() => h.registry.store.devices.get(d.did), "enrolment");
  const imei = hs.ta.id.imei;

  const browser = await chromium.launch({ executablePath: CHROMIUM, args: ["--headless", "--no-sandbox", "--disable-background-networking"] });
  t.after(() => browser.close());
  const context = await browser.newContext({ viewport: { width: 1000, height: 900 } });
  const page = await context.newPage();
  const errors: string[] = [];
  page.on("pageerror", (e) => errors.push(String(e)));
  page.on("console", (m) => void (m.type() === "error" && errors.push(m.text())));
  const cdp = await context.newCDPSession(page);
  await cdp.send("WebAuthn.enable");
  await cdp.send("WebAuthn.addVirtualAuthenticator", {
    options: { protocol: "ctap2", transport: "internal", hasResidentKey: true, hasUserVerification: true, isUserVerified: true, automaticPresenceSimulation: true },
  });

  const checked: string[] = [];
  const shot = async (name: string) => {
    const v = await axeViolations(page);
    assert.deepEqual(v.map((x) => `${x.id} (${x.impact}): ${x.help} at ${x.nodes.map((n) => n.target.join(" ")).join(", ")}`), [], `axe on ${name}`);
    checked.push(new URL(page.url()).pathname);
    await page.screenshot({ path: join(OUT, `${name}.png`), fullPage: true });
  };
  const field = (name: string) => page.locator(`article[data-imei="${imei}"] dd[data-field="${name}"]`);

  // Sign up: the virtual authenticator makes the passkey.
  await page.goto(`${origin}/portal/`);
  await shot("1-sign-up");
  await page.fill("#name", "Asha");
  await page.getByRole("button", { name: "Sign up with a passkey" }).click();
  await page.waitForURL(`${origin}/portal/phones`);
  await page.getByText("No phones yet").waitFor();
  const me = await page.evaluate(() => fetch("/portal/api/me").then((r) => r.json()));
  assert.match(me.alg, /^(ES256|EdDSA)$/);
  t.diagnostic(`the virtual authenticator's passkey: ${me.alg}`);
  await shot("2-my-phones-empty");

  // Claim: the page shows the code; the handset makes its proof for it and hands it in; the
  // page sees it arrive, and the owner confirms with the passkey.
  await page.getByRole("link", { name: "Claim a phone" }).click();
  await page.waitForURL(`${origin}/portal/claim`);
  await shot("3-claim");
  await page.fill("#imei", imei);
  await page.getByRole("button", { name: "Get a claim code" }).click();
  const code = await waitFor(async () => {
    if (await page.locator("#notice.error").count()) throw new Error(`the page says: ${await page.textContent("#notice")}`);
    return (await page.textContent("#code"))?.trim();
  }, "the claim code on the page", 20_000).catch(async (e) => {
    throw new Error(`${(e as Error).message}; the page says: ${await page.textContent("#notice")}; errors: ${errors.join("; ")}`);
  });
  assert.match(code, /^[0-9A-Z]{5}-[0-9A-Z]{5}$/);
  await page.getByText("waiting for the phone").waitFor();
  await shot("4-claim-code");
  const handIn = await new RegistryClient(h.url).handInClaimProof(code, claimProofFor(hs.ta, code));
  assert.equal(handIn.status, 200, JSON.stringify(handIn.body));
  await page.locator("#confirm").waitFor({ state: "visible", timeout: 20_000 });
  await page.click("#confirm");
  await page.getByText("done: the phone is yours").waitFor({ timeout: 20_000 });
  await shot("5-claimed");
  assert.ok(h.registry.store.owners.current(d.did), "the registry has the owner");

  // Report stolen with a lock-screen message: the handset locks, the network status turns BLACKLISTED.
  await page.getByRole("link", { name: "My phones" }).click();
  await page.waitForURL(`${origin}/portal/phones`);
  await waitFor(async () => (await field("Network status").textContent()) === "WHITELISTED", "the phone on My phones", 20_000);
  await page.selectOption(`article[data-imei="${imei}"] select`, "report-stolen");
  await page.fill("#msg-0", "This phone was stolen. Reward for its return.");
  await page.fill("#contact-0", "+44 20 7946 0123");
  await page.getByRole("button", { name: "Report and lock" }).click();
  await waitFor(() => hs.ta.lockState === 2, "the handset locks", 20_000);
  assert.equal(h.registry.store.commands.latest(d.did)?.message, "This phone was stolen. Reward for its return.", "the lock command carries the message");
  await waitFor(async () => (await field("Network status").textContent()) === "BLACKLISTED" && (await field("Lock").textContent()) === "locked", "BLACKLISTED and locked on the page", 20_000);
  await page.getByRole("cell", { name: /^locked/ }).first().waitFor();
  await shot("6-stolen-locked");

  // A buyer's check, in a browser with no session: flagged, and nothing about the owner or the lock.
  const buyer = await browser.newPage();
  await buyer.goto(`${origin}/portal/check`);
  await buyer.fill("#imei", imei);
  await buyer.getByRole("button", { name: "Check", exact: true }).click();
  await buyer.getByText(`IMEI ${imei} is FLAGGED`).waitFor();
  const said = (await buyer.textContent("#result")) ?? "";
  assert.doesNotMatch(said, /Asha|locked|online|Reward|\+44/);
  {
    const v = await axeViolations(buyer);
    assert.deepEqual(v.map((x) => x.id), [], "axe on the public check");
    checked.push("/portal/check");
    await buyer.screenshot({ path: join(OUT, "7-public-check.png"), fullPage: true });
  }
  // Negative control: the same check finds what it is there to find (an unlabelled field, a page with no language).
  await buyer.setContent("<html><head><title>x</title></head><body><main><input type=text></main></body></html>");
  const broken = (await axeViolations(buyer)).map((v) => v.id).sort();
  assert.ok(broken.includes("label") && broken.includes("html-has-lang"), `axe misses a broken page: ${broken.join(", ")}`);
  await buyer.close();

  // Found: the flag is lifted, the registry sends the unlock, the handset unlocks.
  await page.getByRole("button", { name: /I found it/ }).click();
  await waitFor(() => hs.ta.lockState === 0, "the handset unlocks", 20_000);
  await waitFor(async () => (await field("Network status").textContent()) === "WHITELISTED" && (await field("Lock").textContent()) === "unlocked", "WHITELISTED and unlocked on the page", 20_000);
  await shot("8-found-unlocked");

  assert.deepEqual([...new Set(checked)].sort(), ["/portal/", "/portal/check", "/portal/claim", "/portal/phones"], "axe ran on every page");
  assert.deepEqual(errors, [], "no script errors in the pages");
});
