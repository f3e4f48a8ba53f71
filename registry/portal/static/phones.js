import { api, errorText, say, signedRequest } from "./portal.js";

const notice = document.getElementById("notice");
const list = document.getElementById("phones");
const LOCK = ["unlocked", "partially locked", "locked"];
const el = (tag, attrs = {}, ...children) => {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) if (v !== undefined) e.setAttribute(k, v);
  for (const c of children) e.append(c);
  return e;
};
const when = (iso) => (iso ? new Date(iso).toLocaleString() : "-");
let busy = false;

async function act(fields, what) {
  busy = true;
  try {
    say(notice, `${what}: sign with your passkey...`);
    const r = await signedRequest(fields);
    say(notice, `${what}: accepted (network status ${r.status}).`);
  } catch (e) {
    say(notice, `${what} refused: ${errorText(e)}`, true);
  } finally {
    busy = false;
    document.activeElement?.blur(); // the form is done with: let the page redraw
    await refresh();
  }
}

function field(id, label, attrs = {}) {
  return [el("label", { for: id }, label), el("input", { id, ...attrs })];
}

function phoneCard(p, i) {
  const d = p.devices[0] || {};
  const flagged = p.status === "BLACKLISTED";
  const card = el("article", { "aria-labelledby": `ph-${i}`, "data-imei": p.imei });
  card.append(el("h2", { id: `ph-${i}` }, `Phone ${p.imei}`));
  const dl = el("dl");
  const row = (k, v, cls) => dl.append(el("dt", {}, k), el("dd", cls ? { class: `status ${cls}`, "data-field": k } : { "data-field": k }, v));
  row("Network status", p.status, p.status);
  row("Lock", LOCK[d.lockState] ?? "unknown", d.lockState === 2 ? "BLACKLISTED" : "WHITELISTED");
  row("Connection", d.presence ? `${d.presence.online ? "online" : "offline"} (last seen ${when(d.presence.lastSeen)}, unverified)` : "-");
  row("Last attested contact", when(d.lastAttested));
  row("Flags", (d.flags || []).map((f) => `${f.kind} (by ${f.raisedBy})`).join(", ") || "none");
  card.append(dl);

  if (!flagged) {
    const f = el("form", { "aria-label": `Report phone ${p.imei} stolen or lost` });
    const sel = el("select", { id: `kind-${i}` }, el("option", { value: "report-stolen" }, "stolen"), el("option", { value: "report-lost" }, "lost"));
    f.append(el("h3", {}, "Report it stolen or lost"), el("label", { for: `kind-${i}` }, "What happened"), sel,
      ...field(`msg-${i}`, "Message on the lock screen", { maxlength: "128" }),
      ...field(`contact-${i}`, "Contact number on the lock screen", { maxlength: "32", inputmode: "tel" }),
      el("button", { type: "submit", class: "danger" }, "Report and lock"));
    f.addEventListener("submit", (ev) => {
      ev.preventDefault();
      act({ type: sel.value, imei: p.imei, message: f.querySelector(`#msg-${i}`).value, contact: f.querySelector(`#contact-${i}`).value }, "Report");
    });
    card.append(f);
    const t = el("form", { "aria-label": `Transfer phone ${p.imei}` });
    t.append(el("h3", {}, "Transfer to a new owner"), ...field(`to-${i}`, "New owner's id (on their My phones page) or Ed25519 public key (hex)", { autocomplete: "off" }),
      el("button", { type: "submit" }, "Transfer"));
    t.addEventListener("submit", (ev) => {
      ev.preventDefault();
      act({ type: "transfer", imei: p.imei, newOwner: t.querySelector(`#to-${i}`).value }, "Transfer");
    });
    card.append(t);
  } else {
    const b = el("button", { type: "button" }, "I found it: report found and unlock");
    b.addEventListener("click", () => act({ type: "found", imei: p.imei }, "Found"));
    card.append(b);
  }

  const table = el("table");
  table.append(el("caption", {}, "Commands"), el("thead", {}, el("tr", {}, ...["#", "Command", "Sent", "Received", "Result"].map((h) => el("th", { scope: "col" }, h)))));
  const body = el("tbody");
  for (const c of d.timeline || []) {
    const result = c.status === "REJECTED" ? `REJECTED: ${c.reason}` : c.status === "SUCCEEDED" ? `${c.action === "lock" ? "locked" : c.action === "unlock" ? "unlocked" : "shown"} (${when(c.resultAt)})` : c.status;
    body.append(el("tr", {}, el("td", {}, String(c.seq)), el("td", {}, c.action), el("td", {}, when(c.sentAt)), el("td", {}, when(c.receivedAt)), el("td", {}, result)));
  }
  table.append(body);
  card.append(table);
  return card;
}

async function refresh() {
  if (busy || document.activeElement?.closest("form")) return; // never redraw under the owner's typing
  try {
    const { phones } = await api("/portal/api/phones");
    list.replaceChildren(...(phones.length ? phones.map(phoneCard) : [el("p", {}, "No phones yet. ", el("a", { href: "/portal/claim" }, "Claim one."))]));
  } catch (e) {
    if (e.code === "E_UNAUTHENTICATED") location.assign("/portal/");
    else say(notice, errorText(e), true);
  }
}

document.getElementById("signout").addEventListener("click", async () => {
  await api("/portal/api/sign-out", {}).catch(() => {});
  location.assign("/portal/");
});

api("/portal/api/me").then((m) => {
  document.getElementById("me").textContent = `Signed in as ${m.name} (passkey ${m.alg}). Your owner id, for transfers to you: ${m.kid}`;
}).catch(() => location.assign("/portal/"));
refresh();
setInterval(refresh, 1500);
