import { api, errorText, say, signedRequest } from "./portal.js";

const notice = document.getElementById("notice");
const state = document.getElementById("claim-state");
const confirm = document.getElementById("confirm");
let current; // { imei, code }
let timer;

async function poll() {
  if (!current) return;
  try {
    const s = await api(`/portal/api/claim-status?code=${encodeURIComponent(current.code)}`);
    const text = { waiting: "waiting for the phone", "proof-received": "the phone has proved it is in your hands", claimed: "done: the phone is yours", expired: "the code has expired; get a new one" };
    state.textContent = text[s.state] || s.state;
    confirm.hidden = s.state !== "proof-received";
    if (s.state === "claimed" || s.state === "expired") clearInterval(timer);
  } catch (e) {
    say(notice, errorText(e), true);
  }
}

document.getElementById("get-code").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const imei = document.getElementById("imei").value.replace(/[\s-]/g, "");
  try {
    say(notice, "Sign the request with your passkey...");
    const r = await signedRequest({ type: "claim-code", imei });
    current = { imei, code: r.code };
    document.getElementById("code").textContent = r.code;
    document.getElementById("expires").textContent = new Date(r.expires).toLocaleTimeString();
    document.getElementById("cli").textContent = `antitheft device claim-proof --dir PHONE --code ${r.code} --registry ${location.origin}`;
    document.getElementById("code-box").hidden = false;
    say(notice, "Claim code issued.");
    clearInterval(timer);
    timer = setInterval(poll, 1000);
  } catch (e) {
    say(notice, `No claim code: ${errorText(e)}`, true);
  }
});

confirm.addEventListener("click", async () => {
  try {
    say(notice, "Confirm with your passkey...");
    await signedRequest({ type: "claim", imei: current.imei, code: current.code });
    state.textContent = "done: the phone is yours";
    confirm.hidden = true;
    clearInterval(timer);
    say(notice, "Claimed. See it under My phones.");
  } catch (e) {
    say(notice, `Claim refused: ${errorText(e)}`, true);
  }
});
