import { errorText, say } from "./portal.js";

const result = document.getElementById("result");
document.getElementById("check").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const imei = document.getElementById("imei").value.replace(/[\s-]/g, "");
  try {
    const r = await fetch(`/antitheft/v1/check/imei-${encodeURIComponent(imei)}`);
    const j = await r.json();
    if (!r.ok || j.ok !== true) throw Object.assign(new Error(j.message), { code: j.code });
    result.className = `notice ${j.flagged ? "flagged" : "clear"}`;
    result.textContent = j.flagged
      ? `IMEI ${j.imei} is FLAGGED: reported stolen or lost. Do not buy this phone.`
      : `IMEI ${j.imei} is not flagged here.`;
  } catch (e) {
    say(result, `Could not check: ${errorText(e)}`, true);
  }
});
